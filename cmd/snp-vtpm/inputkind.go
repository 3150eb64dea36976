package main

import (
	"bytes"
	"encoding/binary"
)

// Kinds of input file, for the hint printed when a file is given to a
// command that does not read its kind.
const (
	kindEvidence = "evidence"
	kindHCL      = "hcl"
	kindTDQuote  = "td-quote"
)

// inputKind guesses what data is from its first bytes: a JSON document
// (evidence), an HCL report ("HCLA") or a TD quote (DCAP version 4 or 5,
// TEE type TDX); "" when it is none of them.
func inputKind(data []byte) string {
	trimmed := bytes.TrimLeft(data, " \t\r\n")
	switch {
	case len(trimmed) > 0 && trimmed[0] == '{':
		return kindEvidence
	case bytes.HasPrefix(data, []byte("HCLA")):
		return kindHCL
	case len(data) >= 8 && (binary.LittleEndian.Uint16(data) == 4 || binary.LittleEndian.Uint16(data) == 5) &&
		binary.LittleEndian.Uint32(data[4:]) == 0x81:
		return kindTDQuote
	}
	return ""
}

// warnOtherKind warns, when data is of a kind that another command than
// the one that rejected it (which reads kind self) reads, which command
// that is.
func (g *globals) warnOtherKind(data []byte, self, file string) {
	kind := inputKind(data)
	if kind == "" || kind == self || file == "-" {
		return
	}
	var next string
	switch kind {
	case kindEvidence:
		next = `an evidence document (JSON): verify it with "snp-vtpm verify --nonce ... ` + file + `"`
	case kindHCL:
		next = `an HCL report: validate it with "snp-vtpm report -f ` + file + `"`
	case kindTDQuote:
		next = `a TD quote: validate it with "snp-vtpm report --td-quote ` + file + `"`
	}
	g.log.Warn(file + " looks like " + next)
}
