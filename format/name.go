package format

import (
	"encoding/asn1"
	"encoding/hex"
	"regexp"
)

// oidValue matches a distinguished-name attribute that Go's pkix.Name
// prints as its OID and the hex of its DER value: 2.5.4.13=#1303616263.
var oidValue = regexp.MustCompile(`\b([0-9]+(?:\.[0-9]+)+)=#([0-9a-fA-F]+)`)

// oidNames names the attribute types Go's pkix.Name prints as OIDs.
var oidNames = map[string]string{
	"2.5.4.4": "SN", "2.5.4.5": "serialNumber", "2.5.4.9": "street", "2.5.4.12": "title",
	"2.5.4.13": "description", "2.5.4.17": "postalCode", "2.5.4.42": "GN",
	"1.2.840.113549.1.9.1": "emailAddress", "0.9.2342.19200300.100.1.25": "DC",
}

// ReadableName rewrites the OID-and-hex attributes of the certificate
// names in s (as pkix.Name.String prints them) as name=value when the value
// is a DER string: "CN=SEV-Milan,2.5.4.13=#1303616263" becomes
// "CN=SEV-Milan,description=abc". Anything else is left as it is. Call it
// before Truncate, so that a cut does not fall inside the hex.
func ReadableName(s string) string {
	return oidValue.ReplaceAllStringFunc(s, func(m string) string {
		sub := oidValue.FindStringSubmatch(m)
		der, err := hex.DecodeString(sub[2])
		if err != nil {
			return m
		}
		var v asn1.RawValue
		rest, err := asn1.Unmarshal(der, &v)
		if err != nil || len(rest) != 0 || v.Class != asn1.ClassUniversal {
			return m
		}
		switch v.Tag {
		case asn1.TagPrintableString, asn1.TagUTF8String, asn1.TagIA5String, asn1.TagT61String:
		default:
			return m
		}
		name := oidNames[sub[1]]
		if name == "" {
			name = sub[1]
		}
		return name + "=" + string(v.Bytes)
	})
}
