//go:build cgo

package emulator

import (
	"encoding/binary"
	"testing"
)

func cmd(tag uint16, size uint32, cc uint32, handles ...uint32) []byte {
	b := make([]byte, 10, 10+4*len(handles))
	binary.BigEndian.PutUint16(b[0:], tag)
	binary.BigEndian.PutUint32(b[6:], cc)
	for _, h := range handles {
		b = binary.BigEndian.AppendUint32(b, h)
	}
	if size == 0 {
		size = uint32(len(b))
	}
	binary.BigEndian.PutUint32(b[2:], size)
	return b
}

func TestNVWriteIndex(t *testing.T) {
	tests := []struct {
		name   string
		cmd    []byte
		want   uint32
		wantOK bool
	}{
		{"nv write", cmd(tagSessions, 0, ccNVWrite, 0x40000001, 0x01400002), 0x01400002, true},
		{"nv write no sessions tag", cmd(tagNoSessions, 0, ccNVWrite, 0x01400002, 0x01400002), 0x01400002, true},
		{"other command", cmd(tagSessions, 0, 0x14E, 0x01400002, 0x01400002), 0, false},
		{"bad tag", cmd(0x00C1, 0, ccNVWrite, 0x40000001, 0x01400002), 0, false},
		{"size mismatch", cmd(tagSessions, 99, ccNVWrite, 0x40000001, 0x01400002), 0, false},
		{"truncated handles", cmd(tagSessions, 0, ccNVWrite, 0x40000001), 0, false},
		{"empty", nil, 0, false},
		{"header only", cmd(tagSessions, 0, ccNVWrite), 0, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := nvWriteIndex(tc.cmd)
			if got != tc.want || ok != tc.wantOK {
				t.Fatalf("nvWriteIndex = %#x, %v; want %#x, %v", got, ok, tc.want, tc.wantOK)
			}
		})
	}
}

func TestResponseSucceeded(t *testing.T) {
	ok := []byte{0x80, 0x01, 0, 0, 0, 10, 0, 0, 0, 0}
	fail := []byte{0x80, 0x01, 0, 0, 0, 10, 0, 0, 0x01, 0x8B}
	tests := []struct {
		name string
		rsp  []byte
		want bool
	}{
		{"success", ok, true},
		{"error code", fail, false},
		{"short", ok[:6], false},
		{"size mismatch", append(append([]byte{}, ok...), 0), false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := responseSucceeded(tc.rsp); got != tc.want {
				t.Fatalf("responseSucceeded = %v, want %v", got, tc.want)
			}
		})
	}
}
