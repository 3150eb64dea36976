package main

import (
	"encoding/json"
	"fmt"
	"os"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// checkSchema validates v (decoded with UseNumber) against the subset of
// JSON Schema docs/verify-output.schema.json uses: type, const, enum,
// properties, required, additionalProperties, propertyNames, items,
// pattern, minimum, maximum and oneOf. It returns the first violation.
func checkSchema(s map[string]any, v any, at string) error {
	if alts, ok := s["oneOf"].([]any); ok {
		var errs []string
		for _, alt := range alts {
			err := checkSchema(alt.(map[string]any), v, at)
			if err == nil {
				return nil
			}
			errs = append(errs, err.Error())
		}
		return fmt.Errorf("%s: matches no oneOf alternative: %s", at, strings.Join(errs, "; "))
	}
	if want, ok := s["type"].(string); ok && jsonType(v) != want && (want != "number" || jsonType(v) != "integer") {
		return fmt.Errorf("%s: %s, want %s", at, jsonType(v), want)
	}
	if c, ok := s["const"]; ok && !reflect.DeepEqual(c, v) {
		return fmt.Errorf("%s: %v, want %v", at, v, c)
	}
	if enum, ok := s["enum"].([]any); ok && !slices.ContainsFunc(enum, func(e any) bool { return fmt.Sprint(e) == fmt.Sprint(v) }) {
		return fmt.Errorf("%s: %v not in %v", at, v, enum)
	}
	switch x := v.(type) {
	case string:
		if p, ok := s["pattern"].(string); ok && !regexp.MustCompile(p).MatchString(x) {
			return fmt.Errorf("%s: %q does not match %s", at, x, p)
		}
	case json.Number:
		f, _ := x.Float64()
		if m, ok := s["minimum"].(json.Number); ok && f < must(m.Float64()) {
			return fmt.Errorf("%s: %v below %v", at, x, m)
		}
		if m, ok := s["maximum"].(json.Number); ok && f > must(m.Float64()) {
			return fmt.Errorf("%s: %v above %v", at, x, m)
		}
	case []any:
		if items, ok := s["items"].(map[string]any); ok {
			for i, e := range x {
				if err := checkSchema(items, e, fmt.Sprintf("%s[%d]", at, i)); err != nil {
					return err
				}
			}
		}
	case map[string]any:
		return checkObject(s, x, at)
	}
	return nil
}

// checkObject is checkSchema for an object.
func checkObject(s map[string]any, x map[string]any, at string) error {
	props, _ := s["properties"].(map[string]any)
	required, _ := s["required"].([]any)
	for _, r := range required {
		if _, ok := x[r.(string)]; !ok {
			return fmt.Errorf("%s: required key %q missing", at, r)
		}
	}
	for k, e := range x {
		if pn, ok := s["propertyNames"].(map[string]any); ok {
			if err := checkSchema(pn, k, at+" key"); err != nil {
				return err
			}
		}
		sub, ok := props[k].(map[string]any)
		if !ok {
			switch ap := s["additionalProperties"].(type) {
			case bool:
				if !ap {
					return fmt.Errorf("%s: key %q is not in the schema", at, k)
				}
				continue
			case map[string]any:
				sub = ap
			default:
				continue
			}
		}
		if err := checkSchema(sub, e, at+"."+k); err != nil {
			return err
		}
	}
	return nil
}

func must(f float64, _ error) float64 { return f }

func jsonType(v any) string {
	switch x := v.(type) {
	case nil:
		return "null"
	case bool:
		return "boolean"
	case string:
		return "string"
	case json.Number:
		if _, err := x.Int64(); err == nil {
			return "integer"
		}
		return "number"
	case []any:
		return "array"
	case map[string]any:
		return "object"
	}
	return fmt.Sprintf("%T", v)
}

func decodeNumbers(t *testing.T, data string) any {
	t.Helper()
	dec := json.NewDecoder(strings.NewReader(data))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, data)
	}
	return v
}

// TestVerifyJSONSchema checks the real --json output of verify, verified
// and rejected, against docs/verify-output.schema.json, and that the
// validator rejects output that breaks the schema.
func TestVerifyJSONSchema(t *testing.T) {
	raw, err := os.ReadFile("../../docs/verify-output.schema.json")
	if err != nil {
		t.Fatal(err)
	}
	schema := decodeNumbers(t, string(raw)).(map[string]any)
	for _, tc := range []struct {
		args []string
		code int
	}{
		{[]string{"--nonce", "challenge", verifySNPDir + "evidence-v1.json"}, 0},
		{[]string{"--no-nonce", verifySNPDir + "evidence-v0.json"}, 0},
		{[]string{"--no-nonce", verifySNPDir + "evidence-v2.json"}, 0},
		{[]string{"--no-nonce", verifySNPDir + "evidence-genoa.json"}, 0},
		{[]string{"--nonce", "challenge", verifyTDXDir + "evidence-v1.json"}, 0},
		{[]string{"--nonce", "other", verifySNPDir + "evidence-v1.json"}, 2},
		{[]string{"--nonce", "x", writeTemp(t, "bad.json", []byte(`{"version":1}`))}, 2},
	} {
		code, out, errOut := verifyCLI(t, nil, append([]string{"--json", "--at", verifyAt}, tc.args...)...)
		wantExit(t, code, tc.code, out, errOut)
		v := decodeNumbers(t, out)
		if err := checkSchema(schema, v, "$"); err != nil {
			t.Errorf("%v: %v", tc.args, err)
		}
		m := v.(map[string]any)
		m["unexpected"] = true
		if checkSchema(schema, m, "$") == nil {
			t.Errorf("%v: an unknown key passes the schema", tc.args)
		}
		delete(m, "unexpected")
		m["verified"] = "yes"
		if checkSchema(schema, m, "$") == nil {
			t.Errorf("%v: a string \"verified\" passes the schema", tc.args)
		}
	}
	// report --json prints the claims of a bare report the same way
	// (evidence_version -1).
	code, out, errOut := runCLI(t, "report", "--json", "--at", verifyAt, "-f", verifySNPDir+"hcl-report.bin", "--vcek", verifySNPDir+"vcek.pem")
	wantExit(t, code, exitOK, out, errOut)
	if err := checkSchema(schema, decodeNumbers(t, out), "$"); err != nil {
		t.Errorf("report --json: %v", err)
	}
}
