package server

import (
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"strconv"
)

// appendAttestResponse appends the JSON encoding of r to b: the bytes
// json.Marshal(r) gives (TestAppendAttestResponseMatchesMarshal), written
// field by field without reflection. Strings that need escaping and the
// event-log summary (both rare) go through encoding/json.
func appendAttestResponse(b []byte, r *AttestResponse) ([]byte, error) {
	if r.Ciphertext == nil {
		b = append(b, `{"ciphertext":null`...)
	} else {
		b = append(b, `{"ciphertext":"`...)
		b = append(base64.StdEncoding.AppendEncode(b, r.Ciphertext), '"')
	}
	b = append(b, `,"suite":`...)
	b, err := appendJSONString(b, r.Suite)
	if err != nil {
		return nil, err
	}
	b = append(b, `,"claims":`...)
	if b, err = appendClaims(b, &r.Claims); err != nil {
		return nil, err
	}
	if r.Token != "" {
		b = append(b, `,"token":`...)
		if b, err = appendJSONString(b, r.Token); err != nil {
			return nil, err
		}
	}
	return append(b, '}'), nil
}

// appendClaims appends the JSON encoding of c, as json.Marshal writes it.
func appendClaims(b []byte, c *Claims) ([]byte, error) {
	var err error
	str := func(name, v string, omitEmpty bool) {
		if err != nil || (omitEmpty && v == "") {
			return
		}
		b = append(append(append(b, '"'), name...), `":`...)
		b, err = appendJSONString(b, v)
		b = append(b, ',')
	}
	hexField := func(name string, v []byte, omitEmpty bool) {
		if omitEmpty && len(v) == 0 {
			return
		}
		b = append(append(append(b, '"'), name...), `":"`...)
		b = append(hex.AppendEncode(b, v), `",`...)
	}
	b = append(b, '{')
	str("platform", c.Platform, true)
	str("tcb_status", c.TCBStatus, true)
	str("product", c.Product, true)
	hexField("chip_id", c.ChipID, true)
	if t := c.ReportedTCB; t != nil {
		b = append(b, `"reported_tcb":{`...)
		if t.FMC != 0 {
			b = strconv.AppendUint(append(b, `"fmc":`...), uint64(t.FMC), 10)
			b = append(b, ',')
		}
		b = strconv.AppendUint(append(b, `"bootloader":`...), uint64(t.Bootloader), 10)
		b = strconv.AppendUint(append(b, `,"tee":`...), uint64(t.TEE), 10)
		b = strconv.AppendUint(append(b, `,"snp":`...), uint64(t.SNP), 10)
		b = strconv.AppendUint(append(b, `,"microcode":`...), uint64(t.Microcode), 10)
		b = append(b, "},"...)
	}
	hexField("measurement", c.Measurement, false)
	hexField("id_key_digest", c.IDKeyDigest, true)
	str("paravisor", c.Paravisor, false)
	str("paravisor_voucher", c.ParavisorVoucher, true)
	str("vm_unique_id", c.VMUniqueID, true)
	if err != nil {
		return nil, err
	}
	b = strconv.AppendInt(append(b, `"evidence_version":`...), int64(c.EvidenceVersion), 10)
	b = strconv.AppendBool(append(b, `,"fresh_report":`...), c.FreshReport)
	b = strconv.AppendBool(append(b, `,"emulated":`...), c.Emulated)
	if c.EventLog != nil {
		el, err := json.Marshal(c.EventLog)
		if err != nil {
			return nil, err
		}
		b = append(append(b, `,"event_log":`...), el...)
	}
	return append(b, '}'), nil
}

// appendJSONString appends s as a JSON string the way encoding/json writes
// it: printable ASCII other than '"', '\\', '<', '>' and '&' as is, anything
// else through json.Marshal (its escapes, U+FFFD for invalid UTF-8).
func appendJSONString(b []byte, s string) ([]byte, error) {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c > 0x7e || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			q, err := json.Marshal(s)
			if err != nil {
				return nil, err
			}
			return append(b, q...), nil
		}
	}
	return append(append(append(b, '"'), s...), '"'), nil
}
