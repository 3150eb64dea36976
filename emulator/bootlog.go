//go:build cgo

package emulator

import (
	"crypto/ed25519"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/binary"
	"fmt"
	"math/big"
	"time"

	"github.com/google/go-eventlog/tcg"

	"github.com/snp-vtpm/snp-vtpm/emulator/fakeamd"
	"github.com/snp-vtpm/snp-vtpm/eventlog"
)

// What the emulated firmware, shim and GRUB measure. Every string that a
// verifier shows carries fakeamd.Marker, so an emulated log is never taken
// for a real one.
const (
	// FirmwareVersion is the emulated firmware's S-CRTM version (PCR 0).
	FirmwareVersion = "Hyper-V-like UEFI, " + fakeamd.Marker
	// KernelCmdline is the Linux command line the emulated GRUB measures
	// (PCR 8).
	KernelCmdline = "/boot/vmlinuz-6.8.0-snp-vtpm-emulated root=/dev/sda1 ro console=ttyS0"
	// kernelPath is the kernel GRUB loads.
	kernelPath = "/boot/vmlinuz-6.8.0-snp-vtpm-emulated"
)

// bootImage returns the emulated "image" whose digest a boot application's
// event carries.
func bootImage(name string) []byte {
	return []byte("snp-vtpm emulated " + name + " (" + fakeamd.Marker + ")")
}

// BootLog returns the TCG boot event log the emulated CVM's firmware
// writes for a VM named vmID, and the measurements it extends into the
// vTPM (SHA-1 and SHA-256 banks), in order. Hyper-V-like: S-CRTM version
// and firmware volume (PCR 0), boot variables (1), Secure Boot on with a
// fake PK, KEK, db and dbx (7), "UUID: <vmUniqueId>" (6), separators on
// 0-7, shim, GRUB and the kernel (4), GRUB's commands and kernel command
// line (8) and files (9), ExitBootServices (5). Deterministic.
func BootLog(vmID string) ([]byte, []eventlog.Extend, error) {
	sb, err := secureBootVars()
	if err != nil {
		return nil, nil, err
	}
	b := eventlog.NewBuilder([]byte(fakeamd.Marker))
	b.Measure(0, tcg.SCRTMVersion, eventlog.UTF16(FirmwareVersion))
	b.MeasureDigest(0, tcg.EFIPlatformFirmwareBlob, firmwareBlob(0xFFC00000, 0x400000), bootImage("firmware volume"))
	b.Measure(1, tcg.EFIVariableBoot, eventlog.VariableData(eventlog.GlobalVariable, "BootOrder", []byte{0, 0}))
	b.Measure(1, tcg.EFIVariableBoot, eventlog.VariableData(eventlog.GlobalVariable, "Boot0000", bootImage("boot option")))
	for _, v := range sb.vars {
		b.Measure(7, tcg.EFIVariableDriverConfig, v)
	}
	b.Measure(6, tcg.CompactHash, []byte("UUID: "+vmID))
	b.Measure(4, tcg.EFIAction, []byte(tcg.CallingEFIApplication))
	for pcr := 0; pcr < 8; pcr++ {
		b.Measure(pcr, tcg.Separator, []byte{0, 0, 0, 0})
	}
	b.Measure(7, tcg.EFIVariableAuthority, sb.authority)
	for _, app := range []string{"shimx64.efi", "grubx64.efi"} {
		b.MeasureDigest(4, tcg.EFIBootServicesApplication, imageLoad(), bootImage(app))
	}
	grub(b)
	b.MeasureDigest(4, tcg.EFIBootServicesApplication, imageLoad(), bootImage(kernelPath))
	b.Measure(5, tcg.EFIAction, []byte(tcg.ExitBootServicesInvocation))
	b.Measure(5, tcg.EFIAction, []byte("Exit Boot Services Returned with Success"))
	return b.Log()
}

// grub writes what GRUB measures: its files (PCR 9) and commands (PCR 8,
// the digest of the text after the prefix).
func grub(b *eventlog.Builder) {
	ipl := func(pcr int, prefix, text string) {
		b.MeasureDigest(pcr, tcg.Ipl, []byte(prefix+text), []byte(text))
	}
	b.MeasureDigest(9, tcg.Ipl, []byte("/boot/grub/grub.cfg"), bootImage("grub.cfg"))
	ipl(8, "grub_cmd: ", "set root=hd0,gpt1")
	ipl(8, "grub_cmd: ", "linux "+KernelCmdline)
	ipl(8, "kernel_cmdline: ", KernelCmdline)
	b.MeasureDigest(9, tcg.Ipl, []byte(kernelPath), bootImage(kernelPath))
	ipl(8, "grub_cmd: ", "boot")
}

// firmwareBlob encodes UEFI_PLATFORM_FIRMWARE_BLOB (base, length).
func firmwareBlob(base, length uint64) []byte {
	return binary.LittleEndian.AppendUint64(binary.LittleEndian.AppendUint64(nil, base), length)
}

// imageLoad encodes an EFI_IMAGE_LOAD_EVENT with no device path.
func imageLoad() []byte {
	return make([]byte, 32) // location, length, link-time address, device path length
}

// secureBoot is the emulated Secure Boot configuration, as measured.
type secureBoot struct {
	vars      [][]byte // UEFI_VARIABLE_DATA of SecureBoot, PK, KEK, db, dbx
	authority []byte   // the db entry that verified shim
}

// secureBootVars builds the emulated Secure Boot variables: each of PK,
// KEK and db holds one fake certificate (Ed25519, so deterministic), dbx
// two fake image digests.
func secureBootVars() (*secureBoot, error) {
	owner := eventlog.EFIGUID{Data1: 0x736e702d, Data2: 0x7674, Data3: 0x706d, Data4: [8]byte{'e', 'm', 'u', 'l', 'a', 't', 'e', 'd'}}
	certs := map[string][]byte{}
	for _, name := range []string{"PK", "KEK", "db"} {
		der, err := secureBootCert(name)
		if err != nil {
			return nil, err
		}
		certs[name] = der
	}
	r1, r2 := sha256.Sum256(bootImage("revoked image 1")), sha256.Sum256(bootImage("revoked image 2"))
	sb := &secureBoot{vars: [][]byte{
		eventlog.VariableData(eventlog.GlobalVariable, "SecureBoot", []byte{1}),
		eventlog.VariableData(eventlog.GlobalVariable, "PK", eventlog.SignatureList(eventlog.CertX509, owner, certs["PK"])),
		eventlog.VariableData(eventlog.GlobalVariable, "KEK", eventlog.SignatureList(eventlog.CertX509, owner, certs["KEK"])),
		eventlog.VariableData(eventlog.ImageSecurityDatabase, "db", eventlog.SignatureList(eventlog.CertX509, owner, certs["db"])),
		eventlog.VariableData(eventlog.ImageSecurityDatabase, "dbx", eventlog.SignatureList(eventlog.CertSHA256, owner, r1[:], r2[:])),
	}}
	sb.authority = eventlog.VariableData(eventlog.ImageSecurityDatabase, "db", eventlog.SignatureData(owner, certs["db"]))
	return sb, nil
}

// secureBootCert returns the fake self-signed certificate of a Secure Boot
// variable: Ed25519 from a fixed seed, so the same bytes in every run; its
// subject says it is emulated.
func secureBootCert(name string) ([]byte, error) {
	seed := sha256.Sum256([]byte("snp-vtpm emulated Secure Boot " + name + " key (public: anyone can sign with it)"))
	key := ed25519.NewKeyFromSeed(seed[:])
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "snp-vtpm EMULATED Secure Boot " + name, Organization: []string{fakeamd.Marker}},
		NotBefore:             time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC),
		NotAfter:              time.Date(2050, 1, 1, 0, 0, 0, 0, time.UTC),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(nil, tmpl, tmpl, key.Public(), key)
	if err != nil {
		return nil, fmt.Errorf("emulator: Secure Boot %s certificate: %w", name, err)
	}
	return der, nil
}
