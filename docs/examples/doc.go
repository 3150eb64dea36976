// Package examples holds the Go code blocks of README.md and docs/*.md as
// compiled code, so that they cannot rot: TestDocSnippets fails when a
// block in the documentation is not, line by line, in examples_test.go.
package examples
