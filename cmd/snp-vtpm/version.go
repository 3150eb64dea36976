package main

import "github.com/spf13/cobra"

func newVersionCmd(g *globals) *cobra.Command { return &cobra.Command{Use: "version", Hidden: true} }

func newPolicyCmd(g *globals) *cobra.Command { return &cobra.Command{Use: "policy", Hidden: true} }
