package main

import (
	"errors"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"maps"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/snp-vtpm/snp-vtpm/collateral"
	"github.com/snp-vtpm/snp-vtpm/maa"
	"github.com/snp-vtpm/snp-vtpm/result"
	"github.com/snp-vtpm/snp-vtpm/server"
	"github.com/snp-vtpm/snp-vtpm/verify"
)

// The check names a relying party reads are the constants of the verify,
// maa and result packages and the server's ErrorResponse.Check values.
// These tests read them from the source, so that a new check cannot be
// added without its line in SECURITY.md, ARCHITECTURE.md and the server's
// error table, and a removed one cannot stay there.

// parseDir parses the non-test Go files of the module directory dir.
func parseDir(t *testing.T, dir string) []*ast.File {
	t.Helper()
	paths, err := filepath.Glob(filepath.Join("../..", dir, "*.go"))
	if err != nil {
		t.Fatal(err)
	}
	fset := token.NewFileSet()
	var files []*ast.File
	for _, p := range paths {
		if strings.HasSuffix(p, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, p, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		files = append(files, f)
	}
	if len(files) == 0 {
		t.Fatalf("no Go files in %s", dir)
	}
	return files
}

// stringLit returns the value of a string literal, or of Check("...").
func stringLit(e ast.Expr) (string, bool) {
	if c, ok := e.(*ast.CallExpr); ok && len(c.Args) == 1 {
		if id, ok := c.Fun.(*ast.Ident); ok && id.Name == "Check" {
			e = c.Args[0]
		}
	}
	lit, ok := e.(*ast.BasicLit)
	if !ok || lit.Kind != token.STRING {
		return "", false
	}
	s, err := strconv.Unquote(lit.Value)
	return s, err == nil
}

// isCheckConv reports whether e is a conversion Check(...).
func isCheckConv(e ast.Expr) bool {
	c, ok := e.(*ast.CallExpr)
	if !ok {
		return false
	}
	id, ok := c.Fun.(*ast.Ident)
	return ok && id.Name == "Check"
}

// checkConsts returns, by name, the string constants of files: those of
// type Check when typed is set (verify, maa, result), else the untyped
// ones named Check... (the server's ErrorResponse.Check values).
func checkConsts(files []*ast.File, typed bool) map[string]string {
	out := map[string]string{}
	for _, f := range files {
		for _, d := range f.Decls {
			g, ok := d.(*ast.GenDecl)
			if !ok || g.Tok != token.CONST {
				continue
			}
			for _, s := range g.Specs {
				vs := s.(*ast.ValueSpec)
				typ, _ := vs.Type.(*ast.Ident)
				for i, n := range vs.Names {
					if i >= len(vs.Values) {
						continue
					}
					v, ok := stringLit(vs.Values[i])
					isTyped := (typ != nil && typ.Name == "Check") || isCheckConv(vs.Values[i])
					if ok && isTyped == typed && (typed || strings.HasPrefix(n.Name, "Check")) {
						out[n.Name] = v
					}
				}
			}
		}
	}
	return out
}

// codeCheckNames are the check names of verify, maa and result, read from
// their source, by package.
func codeCheckNames(t *testing.T) map[string][]string {
	t.Helper()
	out := map[string][]string{}
	for _, pkg := range []string{"verify", "maa", "result"} {
		out[pkg] = slices.Sorted(maps.Values(checkConsts(parseDir(t, pkg), true)))
	}
	// The parse must find what the compiler knows.
	for pkg, c := range map[string]string{
		"verify": string(verify.CheckEvidenceFormat), "maa": string(maa.CheckJWKS), "result": string(result.CheckNonce),
	} {
		if !slices.Contains(out[pkg], c) {
			t.Fatalf("the parse of %s found %v, not %s", pkg, out[pkg], c)
		}
	}
	return out
}

// allCheckNames is the set of codeCheckNames.
func allCheckNames(t *testing.T) map[string]bool {
	t.Helper()
	set := map[string]bool{}
	for _, l := range codeCheckNames(t) {
		for _, c := range l {
			set[c] = true
		}
	}
	return set
}

// readDoc reads a document of the repository.
func readDoc(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("../..", name))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// mdSection returns the lines under the "## heading" of md, to the next
// heading of that level.
func mdSection(t *testing.T, md, heading string) string {
	t.Helper()
	_, rest, ok := strings.Cut(md, "\n## "+heading+"\n")
	if !ok {
		t.Fatalf("no section %q", heading)
	}
	sec, _, _ := strings.Cut(rest, "\n## ")
	return sec
}

// tableRows returns the cells of the body rows of the Markdown tables in
// md (header and separator rows left out).
func tableRows(md string) [][]string {
	var rows [][]string
	header := true
	for line := range strings.Lines(md) {
		line = strings.TrimSpace(line)
		if !strings.HasPrefix(line, "|") {
			header = true
			continue
		}
		if header || strings.HasPrefix(line, "|---") {
			header = false
			continue
		}
		cells := strings.Split(strings.Trim(line, "|"), "|")
		for i := range cells {
			cells[i] = strings.TrimSpace(cells[i])
		}
		rows = append(rows, cells)
	}
	return rows
}

// checkName matches a backquoted word that has the form of a check name.
var checkName = regexp.MustCompile("`([a-z][a-z0-9]*(?:-[a-z0-9]+)*)`")

// namesIn returns the check-like names quoted in s.
func namesIn(s string) []string {
	var out []string
	for _, m := range checkName.FindAllStringSubmatch(s, -1) {
		out = append(out, m[1])
	}
	return out
}

// firstColumnNames returns the check-like names of the first cells of the
// tables in sec.
func firstColumnNames(sec string) map[string]bool {
	out := map[string]bool{}
	for _, row := range tableRows(sec) {
		for _, n := range namesIn(row[0]) {
			out[n] = true
		}
	}
	return out
}

// TestDocsNameEveryCheck: every check of verify, maa and result has its
// row in SECURITY.md's "Every check and the attack it stops" and in
// ARCHITECTURE.md's "Where each check happens" (named in the first
// column), and every name there is a check of today's code.
func TestDocsNameEveryCheck(t *testing.T) {
	code := allCheckNames(t)
	for _, tc := range []struct{ doc, section string }{
		{"SECURITY.md", "Every check and the attack it stops"},
		{"ARCHITECTURE.md", "Where each check happens"},
	} {
		docNames := firstColumnNames(mdSection(t, readDoc(t, tc.doc), tc.section))
		for _, c := range slices.Sorted(maps.Keys(code)) {
			if !docNames[c] {
				t.Errorf("%s, %q: no row names check `%s`", tc.doc, tc.section, c)
			}
		}
		for _, n := range slices.Sorted(maps.Keys(docNames)) {
			if !code[n] {
				t.Errorf("%s, %q: `%s` is not a check (verify, maa, result)", tc.doc, tc.section, n)
			}
		}
	}
}

// checkFamily matches the names that only a check has: a quoted word of
// one of these prefixes in the documentation is a check name.
var checkFamily = regexp.MustCompile(`^(maa|result|tdx|vcek|quote|pcr|hcl-report|snp-report)-`)

// TestDocsNoStaleCheckNames: a check-like name of a check family
// (maa-..., result-..., tdx-..., ...) quoted anywhere in README.md,
// SECURITY.md, ARCHITECTURE.md or docs/*.md is a check of today's code.
func TestDocsNoStaleCheckNames(t *testing.T) {
	code := allCheckNames(t)
	docs, err := filepath.Glob("../../docs/*.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range []string{"README.md", "SECURITY.md", "ARCHITECTURE.md"} {
		docs = append(docs, filepath.Join("../..", d))
	}
	for _, d := range docs {
		b, err := os.ReadFile(d)
		if err != nil {
			t.Fatal(err)
		}
		for _, n := range namesIn(string(b)) {
			if checkFamily.MatchString(n) && !code[n] {
				t.Errorf("%s names `%s`, which is no check of verify, maa or result", d, n)
			}
		}
	}
}

// serverAnswer is a status and the "check" of an error answer the server
// writes; verification stands for any verify.Check.
type serverAnswer struct {
	status int
	check  string
}

// verification is the check of a serverAnswer that names the failed
// verify.Check.
const verification = "<verify.Check>"

// httpStatus resolves http.StatusXxx by name.
func httpStatus(e ast.Expr) (int, bool) {
	sel, ok := e.(*ast.SelectorExpr)
	if !ok {
		return 0, false
	}
	for code := 100; code < 600; code++ {
		if text := http.StatusText(code); text != "" && "Status"+strings.NewReplacer(" ", "", "-", "").Replace(text) == sel.Sel.Name {
			return code, true
		}
	}
	return 0, false
}

// isHTTPName reports whether e is http.Something.
func isHTTPName(e ast.Expr) bool {
	sel, ok := e.(*ast.SelectorExpr)
	if !ok {
		return false
	}
	x, ok := sel.X.(*ast.Ident)
	return ok && x.Name == "http"
}

// serverValue resolves a check expression of the server's source: a
// string literal, a Check... constant, or string(x.Check).
func serverValue(e ast.Expr, consts map[string]string) (string, bool) {
	if s, ok := stringLit(e); ok {
		return s, true
	}
	switch e := e.(type) {
	case *ast.Ident:
		v, ok := consts[e.Name]
		return v, ok
	case *ast.CallExpr:
		if f, ok := e.Fun.(*ast.Ident); ok && f.Name == "string" && len(e.Args) == 1 {
			if sel, ok := e.Args[0].(*ast.SelectorExpr); ok && sel.Sel.Name == "Check" {
				return verification, true
			}
		}
	}
	return "", false
}

// serverAnswers reads from the server's source every error answer that
// carries a "check": the attestOutcome literals (their reason is the check
// unless the result is resultError) and the writeError calls.
func serverAnswers(t *testing.T) []serverAnswer {
	t.Helper()
	files := parseDir(t, "server")
	consts := checkConsts(files, false)
	var out []serverAnswer
	add := func(pos ast.Node, status, check ast.Expr) {
		code, ok1 := httpStatus(status)
		c, ok2 := serverValue(check, consts)
		if !ok1 || !ok2 {
			t.Errorf("server: cannot read the status and check of the answer at offset %d of its file", pos.Pos())
			return
		}
		if c != "" && code != http.StatusOK {
			out = append(out, serverAnswer{code, c})
		}
	}
	for _, f := range files {
		ast.Inspect(f, func(n ast.Node) bool {
			switch n := n.(type) {
			case *ast.CompositeLit:
				if id, ok := n.Type.(*ast.Ident); ok && id.Name == "attestOutcome" && len(n.Elts) == 4 {
					if r, ok := n.Elts[1].(*ast.Ident); !ok || r.Name != "resultError" {
						add(n, n.Elts[0], n.Elts[2])
					}
				}
			case *ast.CallExpr:
				// writeError(w, r, out.status, check, ...) writes an
				// attestOutcome, read from its literal above.
				if id, ok := n.Fun.(*ast.Ident); ok && id.Name == "writeError" && len(n.Args) == 5 && isHTTPName(n.Args[2]) {
					add(n, n.Args[2], n.Args[3])
				}
			}
			return true
		})
	}
	if !slices.Contains(out, serverAnswer{http.StatusNotFound, server.CheckResource}) || !slices.Contains(out, serverAnswer{http.StatusForbidden, verification}) {
		t.Fatalf("the parse of server found %v, not the 404 resource and 403 verification answers", out)
	}
	return out
}

// statuses returns the HTTP statuses written in a table cell ("404, 405").
func statuses(cell string) []int {
	var out []int
	for _, f := range regexp.MustCompile(`\b[1-5][0-9][0-9]\b`).FindAllString(cell, -1) {
		n, _ := strconv.Atoi(f)
		out = append(out, n)
	}
	return out
}

// TestDocsServerErrorChecks: docs/remote-attestation.md's table of error
// answers has a row for every status and "check" the server writes, and
// names no check the server does not write with that status.
func TestDocsServerErrorChecks(t *testing.T) {
	answers := serverAnswers(t)
	code := allCheckNames(t)
	doc := readDoc(t, "docs/remote-attestation.md")
	_, table, ok := strings.Cut(doc, "Every error is JSON")
	if !ok {
		t.Fatal(`docs/remote-attestation.md: no "Every error is JSON" table`)
	}
	parts := strings.SplitN(table, "\n\n", 3)
	if len(parts) < 2 {
		t.Fatal("docs/remote-attestation.md: the error table does not follow its sentence")
	}
	rows := tableRows(parts[1])
	documented := func(a serverAnswer) bool {
		for _, row := range rows {
			named := slices.Contains(namesIn(row[1]), a.check) || (a.check == verification && strings.Contains(row[1], "a verification check"))
			if named && slices.Contains(statuses(row[0]), a.status) {
				return true
			}
		}
		return false
	}
	for _, a := range answers {
		if !documented(a) {
			t.Errorf("docs/remote-attestation.md: no row for status %d, check %q", a.status, a.check)
		}
	}
	for _, row := range rows {
		for _, n := range namesIn(row[1]) {
			verifyCheck := strings.Contains(row[1], "a verification check") && code[n]
			for _, s := range statuses(row[0]) {
				if !verifyCheck && !slices.Contains(answers, serverAnswer{s, n}) {
					t.Errorf("docs/remote-attestation.md: the server writes no status %d with check `%s`", s, n)
				}
			}
		}
	}
}

// verifyCheckUses reads verify's source: the checks it raises as a
// rejection (fail, failf, a table or argument: any use but as the check
// of unavailableErr, a comparison or a case), and those it raises as an
// *UnavailableError.
func verifyCheckUses(t *testing.T) (consts map[string]string, rejects, unavailable map[string]bool) {
	t.Helper()
	files := parseDir(t, "verify")
	consts = checkConsts(files, true)
	rejects, unavailable = map[string]bool{}, map[string]bool{}
	notUse := map[*ast.Ident]bool{}
	mark := func(e ast.Expr) {
		if id, ok := e.(*ast.Ident); ok {
			notUse[id] = true
		}
	}
	for _, f := range files {
		ast.Inspect(f, func(n ast.Node) bool {
			switch n := n.(type) {
			case *ast.CallExpr:
				if id, ok := n.Fun.(*ast.Ident); ok && id.Name == "unavailableErr" && len(n.Args) == 2 {
					mark(n.Args[0])
					if a, ok := n.Args[0].(*ast.Ident); ok {
						unavailable[consts[a.Name]] = true
					}
				}
			case *ast.BinaryExpr:
				mark(n.X)
				mark(n.Y)
			case *ast.CaseClause:
				for _, e := range n.List {
					mark(e)
				}
			case *ast.ValueSpec:
				for _, id := range n.Names {
					notUse[id] = true
				}
			}
			return true
		})
	}
	for _, f := range files {
		ast.Inspect(f, func(n ast.Node) bool {
			if id, ok := n.(*ast.Ident); ok && !notUse[id] && consts[id.Name] != "" {
				rejects[consts[id.Name]] = true
			}
			return true
		})
	}
	return consts, rejects, unavailable
}

// codeExitCodes returns, by check name, the exit statuses the CLI's
// exitCode gives the errors the code raises with that check: verify's
// rejections (with the causes unavailableCollateral tells apart) and
// *UnavailableErrors, maa's and result's errors, and the server's error
// answers as `attest` receives them.
func codeExitCodes(t *testing.T) map[string]map[int]bool {
	t.Helper()
	out := map[string]map[int]bool{}
	add := func(check string, err error) {
		if out[check] == nil {
			out[check] = map[int]bool{}
		}
		out[check][exitCode(err)] = true
	}
	_, rejects, unavailable := verifyCheckUses(t)
	causes := []error{errors.New("a reason"), fmt.Errorf("listed: %w", collateral.ErrRevoked), fmt.Errorf("offline: %w", collateral.ErrOffline)}
	for c := range rejects {
		for _, cause := range causes {
			add(c, &verify.Error{Check: verify.Check(c), Err: cause})
		}
	}
	for c := range unavailable {
		add(c, &verify.UnavailableError{Check: verify.Check(c), Err: verify.ErrCertificateUnavailable})
	}
	names := codeCheckNames(t)
	for _, c := range names["maa"] {
		// maa verify and maa attest turn a token's rejection into the
		// CLI's (maaFlags.fail); exitCode alone does not know maa.
		add(c, (&maaFlags{}).fail(&globals{}, &maa.Error{Check: maa.Check(c), Err: errors.New("a reason")}))
	}
	for _, c := range names["result"] {
		add(c, &result.Error{Check: result.Check(c), Err: errors.New("a reason")})
	}
	for _, a := range serverAnswers(t) {
		if a.check != verification {
			add(a.check, &server.APIError{StatusCode: a.status, Check: a.check, Message: "a reason"})
		}
	}
	for _, c := range names["verify"] {
		if out[c] == nil {
			t.Errorf("verify raises check %s nowhere", c)
		}
	}
	return out
}

// exitDigits returns the exit statuses written in a table cell ("2, 1").
func exitDigits(cell string) map[int]bool {
	out := map[int]bool{}
	for _, f := range regexp.MustCompile(`\b[0-2]\b`).FindAllString(cell, -1) {
		n, _ := strconv.Atoi(f)
		out[n] = true
	}
	return out
}

// TestDocsExitCodes: ARCHITECTURE.md's "Exit codes (CLI)" gives each check
// the exit statuses that exitCode gives the errors the code raises with
// it: a row naming the check, or the row naming none ("every other
// check").
func TestDocsExitCodes(t *testing.T) {
	code := codeExitCodes(t)
	rows := tableRows(mdSection(t, readDoc(t, "ARCHITECTURE.md"), "Exit codes (CLI)"))
	docs := map[string]map[int]bool{}
	var others map[int]bool
	for _, row := range rows {
		if len(row) < 2 {
			t.Fatalf("ARCHITECTURE.md, exit codes: row %q has no exit column", row)
		}
		names := namesIn(row[0])
		if len(names) == 0 {
			others = exitDigits(row[1])
		}
		for _, n := range names {
			docs[n] = exitDigits(row[1])
			if code[n] == nil {
				t.Errorf("ARCHITECTURE.md, exit codes: `%s` is not a check", n)
			}
		}
	}
	for _, c := range slices.Sorted(maps.Keys(code)) {
		want, ok := docs[c]
		if !ok {
			want = others
		}
		if !maps.Equal(want, code[c]) {
			t.Errorf("ARCHITECTURE.md, exit codes: check %s exits %v, the table says %v", c, slices.Sorted(maps.Keys(code[c])), slices.Sorted(maps.Keys(want)))
		}
	}
}

// TestExpectedEveryRejection: every verify check that rejects (exit 2)
// has the "(expected: ...)" of its REJECTED line.
func TestExpectedEveryRejection(t *testing.T) {
	names := codeCheckNames(t)
	verifyChecks := names["verify"]
	for c, codes := range codeExitCodes(t) {
		if expected[verify.Check(c)] == "" && codes[exitRejected] && slices.Contains(verifyChecks, c) {
			t.Errorf("check %s rejects (exit 2) without an expected line in cmd/snp-vtpm/errors.go", c)
		}
	}
	// Every token check but maa-jwks (never a rejection) has one, and the
	// line reaches the printed rejection.
	for _, c := range append(slices.Clone(names["maa"]), names["result"]...) {
		if c != string(maa.CheckJWKS) && expectedToken[c] == "" {
			t.Errorf("token check %s has no expected line in cmd/snp-vtpm/errors.go", c)
		}
	}
	g := &globals{}
	for _, err := range []error{&maa.Error{Check: maa.CheckVMPL, Err: errors.New("vmpl 2")}, &result.Error{Check: result.CheckNonce, Err: errors.New("other")}} {
		if line := g.describe(err, exitRejected); !strings.HasSuffix(line, "(expected: "+expectedFor(err)+")") || expectedFor(err) == "" {
			t.Errorf("rejection line %q lacks its expected part", line)
		}
	}
}
