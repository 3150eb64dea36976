package vtpm

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-tpm/tpm2"
	"github.com/google/go-tpm/tpm2/transport/linuxtpm"

	"github.com/snp-vtpm/snp-vtpm/hcl"
)

func TestQualifyingData(t *testing.T) {
	long := bytes.Repeat([]byte{7}, 100)
	sum := sha256.Sum256(long)
	tests := []struct {
		name  string
		nonce []byte
		want  []byte
	}{
		{"empty", nil, []byte{}},
		{"challenge", []byte("challenge"), []byte("challenge")},
		{"48 bytes kept", bytes.Repeat([]byte{1}, 48), bytes.Repeat([]byte{1}, 48)},
		{"49 bytes hashed", bytes.Repeat([]byte{1}, 49), func() []byte { s := sha256.Sum256(bytes.Repeat([]byte{1}, 49)); return s[:] }()},
		{"100 bytes hashed", long, sum[:]},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := QualifyingData(tc.nonce)
			if !bytes.Equal(got, tc.want) {
				t.Fatalf("QualifyingData = %x, want %x", got, tc.want)
			}
			if len(got) > MaxNonceSize {
				t.Fatalf("qualifying data is %d bytes, over %d", len(got), MaxNonceSize)
			}
			if len(tc.nonce) > 0 && len(tc.nonce) <= MaxNonceSize && &got[0] == &tc.nonce[0] {
				t.Fatal("QualifyingData aliases its input")
			}
		})
	}
}

func TestOpenErrors(t *testing.T) {
	dir := t.TempDir()
	regular := filepath.Join(dir, "regular")
	if err := os.WriteFile(regular, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		path string
		want error
	}{
		{"nonexistent", "/nonexistent", ErrNoDevice},
		{"nonexistent in dir", filepath.Join(dir, "tpmrm0"), ErrNoDevice},
		{"not a device", regular, ErrNoDevice},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tpm, err := Open(tc.path)
			if err == nil {
				tpm.Close()
				t.Fatal("Open succeeded")
			}
			if !errors.Is(err, tc.want) {
				t.Fatalf("Open error %v does not match %v", err, tc.want)
			}
			var derr *DeviceError
			if !errors.As(err, &derr) || derr.Path != tc.path {
				t.Fatalf("Open error %v is not a *DeviceError for %s", err, tc.path)
			}
			if !strings.Contains(err.Error(), tc.path) {
				t.Fatalf("error %q does not name the path", err)
			}
		})
	}
}

// Permission errors cannot be provoked as root, so the classification is
// tested directly.
func TestOpenErrorClassification(t *testing.T) {
	tests := []struct {
		name    string
		err     error
		want    error
		wantMsg string
	}{
		{"permission", &fs.PathError{Op: "open", Path: "/dev/tpmrm0", Err: fs.ErrPermission}, ErrPermission, "run as root or join the tss group"},
		{"not exist", &fs.PathError{Op: "stat", Path: "/dev/tpmrm0", Err: fs.ErrNotExist}, ErrNoDevice, "no TPM device"},
		{"not a device", fmt.Errorf("%w: -rw-r--r--", linuxtpm.ErrFileIsNotDevice), ErrNoDevice, "no TPM device"},
		{"other", errors.New("EBUSY"), nil, "EBUSY"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := openError("/dev/tpmrm0", tc.err)
			if tc.want != nil && !errors.Is(err, tc.want) {
				t.Fatalf("%v does not match %v", err, tc.want)
			}
			if tc.want == nil && (errors.Is(err, ErrNoDevice) || errors.Is(err, ErrPermission)) {
				t.Fatalf("%v wrongly classified", err)
			}
			if !errors.Is(err, tc.err) {
				t.Fatalf("%v does not wrap the cause", err)
			}
			if !strings.Contains(err.Error(), tc.wantMsg) || !strings.Contains(err.Error(), "/dev/tpmrm0") {
				t.Fatalf("message %q lacks %q or the path", err, tc.wantMsg)
			}
		})
	}
}

func TestTPMErrorClassification(t *testing.T) {
	tests := []struct {
		name   string
		handle uint32
		rc     tpm2.TPMRC
		want   error
	}{
		{"NV handle", NVIndexHCLReport, tpm2.TPMRCHandle + 0x100, ErrIndexMissing},
		{"persistent handle", AKHandle, tpm2.TPMRCHandle + 0x100, ErrHandleMissing},
		{"bad auth", NVIndexHCLReport, tpm2.TPMRCBadAuth + 0x900, ErrAuth},
		{"auth fail", NVIndexHCLReport, tpm2.TPMRCAuthFail + 0x900, ErrAuth},
		{"nv authorization", NVIndexUserData, tpm2.TPMRCNVAuthorization, ErrAuth},
		{"nv range", NVIndexUserData, tpm2.TPMRCNVRange, ErrNVSize},
		{"nv size", NVIndexUserData, tpm2.TPMRCNVSize, ErrNVSize},
		{"lockout", NVIndexUserData, tpm2.TPMRCLockout, ErrAuth},
		{"other", NVIndexUserData, tpm2.TPMRCFailure, nil},
	}
	kinds := []error{ErrIndexMissing, ErrHandleMissing, ErrAuth, ErrNVSize}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := tpmErr("NV_Read", tc.handle, fmt.Errorf("wrapped: %w", tc.rc))
			for _, k := range kinds {
				if got := errors.Is(err, k); got != (k == tc.want) {
					t.Errorf("errors.Is(%v, %v) = %v", err, k, got)
				}
			}
			var rc tpm2.TPMRC
			if !errors.As(err, &rc) || rc != tc.rc {
				t.Errorf("the TPMRC %v is not reachable through %v", tc.rc, err)
			}
			if !strings.Contains(err.Error(), fmt.Sprintf("%#08x", tc.handle)) {
				t.Errorf("message %q does not name the handle", err)
			}
		})
	}
	if tpmErr("x", 0, nil) != nil {
		t.Error("tpmErr(nil) != nil")
	}
}

func TestSizeAndKeyErrors(t *testing.T) {
	var e error = &UserDataSizeError{Size: 65}
	if !errors.Is(e, ErrUserDataSize) || !strings.Contains(e.Error(), "65") {
		t.Errorf("UserDataSizeError: %v", e)
	}
	e = &KeyError{Handle: AKHandle, Reason: "RSA key is 1024 bits"}
	if !errors.Is(e, ErrUnexpectedKey) || !strings.Contains(e.Error(), "0x81000003") {
		t.Errorf("KeyError: %v", e)
	}
}

// hclBlob builds an HCL report (package hcl) around a zero SNP report with
// runtime data js, padded to 2048 bytes.
func hclBlob(t *testing.T, js string) []byte {
	t.Helper()
	b, err := hcl.Build(hcl.ReportTypeSNP, make([]byte, hcl.SNPReportSize), []byte(js), 2048)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestReportUserData(t *testing.T) {
	ud := strings.Repeat("ab", hcl.UserDataSize)
	keys := `"keys":[]`
	tests := []struct {
		name    string
		blob    []byte
		want    string
		wantErr bool
	}{
		{"user data", hclBlob(t, `{`+keys+`,"user-data":"`+ud+`"}`), ud, false},
		{"upper-case user data", hclBlob(t, `{`+keys+`,"user-data":"`+strings.ToUpper(ud)+`"}`), ud, false},
		{"no user data", hclBlob(t, `{`+keys+`}`), "", false},
		{"unknown fields", hclBlob(t, `{`+keys+`,"x":{"y":[1,2]},"user-data":"`+ud+`"}`), ud, false},
		{"short user data", hclBlob(t, `{`+keys+`,"user-data":"abcd"}`), "", true},
		{"short", hclBlob(t, `{}`)[:100], "", true},
		{"bad magic", func() []byte { b := hclBlob(t, `{}`); b[hcl.OffsetMagic] = 'X'; return b }(), "", true},
		{"runtime data cut", hclBlob(t, `{`+keys+`,"user-data":"`+ud+`"}`)[:hcl.RuntimeDataOffset+10], "", true},
		{"not json", hclBlob(t, `nope`), "", true},
		{"duplicate user-data", hclBlob(t, `{`+keys+`,"user-data":"`+ud+`","user-data":"`+ud+`"}`), "", true},
		{"duplicate inside unknown", hclBlob(t, `{`+keys+`,"x":{"a":1,"a":2},"user-data":"`+ud+`"}`), "", true},
		{"case variant", hclBlob(t, `{`+keys+`,"User-Data":"`+ud+`","user-data":"`+ud+`"}`), "", true},
		{"invalid UTF-8", hclBlob(t, "{\"keys\":[],\"x\":\"00\xff\"}"), "", true},
		{"trailing data", hclBlob(t, `{`+keys+`,"user-data":"`+ud+`"} {}`), "", true},
		{"too deep", hclBlob(t, `{`+keys+`,"x":`+strings.Repeat("[", 70)+strings.Repeat("]", 70)+`}`), "", true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := reportUserData(tc.blob)
			if (err != nil) != tc.wantErr {
				t.Fatalf("err = %v, wantErr %v", err, tc.wantErr)
			}
			if err != nil && !errors.Is(err, ErrMalformedResponse) {
				t.Fatalf("err %v does not match ErrMalformedResponse", err)
			}
			if !strings.EqualFold(got, tc.want) {
				t.Fatalf("user-data = %q, want %q", got, tc.want)
			}
		})
	}
}

func TestRefreshReportRejectsSize(t *testing.T) {
	for _, n := range []int{0, 65, 1000} {
		t.Run(fmt.Sprint(n), func(t *testing.T) {
			// The transport must never be used: a nil one would panic.
			_, err := RefreshReport(context.Background(), nil, make([]byte, n))
			var se *UserDataSizeError
			if !errors.As(err, &se) || se.Size != n || !errors.Is(err, ErrUserDataSize) {
				t.Fatalf("RefreshReport(%d bytes) error = %v", n, err)
			}
		})
	}
}

// TestPCRMask: QuotePCRs's selection is distinct PCRs 0-23, at least one;
// anything else is refused before the TPM is asked.
func TestPCRMask(t *testing.T) {
	for _, tc := range []struct {
		pcrs []int
		mask uint32 // 0: refused
	}{
		{[]int{0, 7}, 0x81},
		{[]int{23}, 1 << 23},
		{[]int{7, 0}, 0x81},
		{nil, 0},
		{[]int{}, 0},
		{[]int{-1}, 0},
		{[]int{24}, 0},
		{[]int{31}, 0},
		{[]int{3, 3}, 0},
		{[]int{0, 1, 0}, 0},
	} {
		mask, err := pcrMask(tc.pcrs)
		if mask != tc.mask || (err == nil) != (tc.mask != 0) {
			t.Errorf("pcrMask(%v) = %#x, %v; want %#x", tc.pcrs, mask, err, tc.mask)
		}
	}
	if _, err := QuotePCRs(t.Context(), nil, []byte("n"), []int{24}); err == nil {
		t.Error("QuotePCRs over PCR 24 asked the TPM")
	}
}
