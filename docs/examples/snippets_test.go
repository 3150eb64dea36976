package examples

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// norm trims a line and folds runs of white space (gofmt aligns comments
// in the compiled file, the documentation need not).
func norm(line string) string { return strings.Join(strings.Fields(line), " ") }

// codeLines returns the normalised non-empty lines of s.
func codeLines(s string) []string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if n := norm(l); n != "" {
			out = append(out, n)
		}
	}
	return out
}

// goBlocks returns the ```go blocks of a Markdown document.
func goBlocks(md string) []string {
	var blocks []string
	for {
		i := strings.Index(md, "```go\n")
		if i < 0 {
			return blocks
		}
		md = md[i+len("```go\n"):]
		j := strings.Index(md, "```")
		if j < 0 {
			return append(blocks, md)
		}
		blocks = append(blocks, md[:j])
		md = md[j+3:]
	}
}

// contains reports whether want appears in have as consecutive lines.
func contains(have, want []string) bool {
	for i := 0; i+len(want) <= len(have); i++ {
		ok := true
		for j := range want {
			if have[i+j] != want[j] {
				ok = false
				break
			}
		}
		if ok {
			return true
		}
	}
	return false
}

// TestDocSnippets: every Go code block of README.md and docs/*.md is, line
// by line, part of examples_test.go, which the compiler checks; a block
// that does not compile against today's API fails here instead of rotting.
func TestDocSnippets(t *testing.T) {
	src, err := os.ReadFile("examples_test.go")
	if err != nil {
		t.Fatal(err)
	}
	have := codeLines(string(src))
	docs, err := filepath.Glob("../*.md")
	if err != nil {
		t.Fatal(err)
	}
	docs = append(docs, "../../README.md")
	blocks := 0
	for _, doc := range docs {
		md, err := os.ReadFile(doc)
		if err != nil {
			t.Fatal(err)
		}
		for i, b := range goBlocks(string(md)) {
			blocks++
			if !contains(have, codeLines(b)) {
				t.Errorf("%s: Go block %d is not in examples_test.go (copy it there so that it compiles):\n%s", doc, i+1, b)
			}
		}
	}
	if blocks < 3 {
		t.Errorf("found %d Go blocks in the documentation, want at least 3 (README, on-a-cvm, remote-attestation)", blocks)
	}
}
