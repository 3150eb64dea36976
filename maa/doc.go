// Package maa verifies Microsoft Azure Attestation (MAA) "AzureGuest"
// tokens: JWTs in compact JWS form, signed with RS256 by an attestation
// instance such as https://sharedeus2.eus2.attest.azure.net.
//
// Verification ([Verify]) fails closed, in this order, naming the failed
// check in an [*Error]:
//
//   - the token's form: compact serialization only (three base64url parts,
//     no padding), a strict JSON header (duplicate members rejected, "crit"
//     rejected) and at most [MaxTokenBytes];
//   - the algorithm: RS256 only; "none", HS256 (however keyed) and every
//     other algorithm are rejected before any key is looked up;
//   - the key: chosen by the header's kid in the configured [KeySource]
//     only; the token's jku, x5u, jwk and x5c headers are never used;
//   - the RSA PKCS #1 v1.5 SHA-256 signature; only then is the payload
//     parsed, strictly, into [Claims];
//   - iss equal to the configured issuer, no aud (RFC 7519 4.1.3: a token
//     for an audience is not for us) unless [Config.Audience] is set, and
//     then an aud that names it ([Claims.Audiences]); exp, nbf and iat at
//     the configured time with [DefaultSkew]; iat and nbf present and a
//     validity period (exp - iat, exp - nbf) of at most
//     [Config.MaxLifetime] ([DefaultMaxLifetime]: 24 h; MAA's tokens are
//     valid 8 h); the emulated MAA's public test key is
//     refused unless [Config.TrustEmulated], and a token it signed must
//     name [EmulatedIssuer] even then;
//   - the default claims policy: an Azure confidential VM
//     (x-ms-attestation-type azurevm, x-ms-isolation-tee of type sevsnpvm
//     or tdxvm, compliance azure-compliant-cvm; on SEV-SNP
//     x-ms-sevsnpvm-vmpl 0, as our verifier requires of HCL reports),
//     secure boot on, every debug claim off (on TDX
//     tdx_td_attributes_debug false and dbgstat, if present, "disabled"),
//     and the client-payload nonce when one is expected.
//
// A tdxvm isolation TEE carries the claims of MAA's TDX EAT profile (tdx_*
// and attester_tcb_status, dbgstat; [TDX]), not x-ms-tdxvm-* claims;
// [Claims.Platform] says which TEE a token attests.
//
// MAA's JWKS (GET {instance}/certs) carries each key only as a certificate
// in x5c[0], without n and e; [ParseJWKS] takes the RSA key from that
// certificate. The certificate is self-signed with CA:FALSE: it is trusted
// because the JWKS is configured (a file, or the instance's URL over
// HTTPS), not because of a chain. A JWKS can list keys no token should be
// verified with (sharedeus's listed a 1024-bit one): they are set aside,
// and a token naming one is rejected ([ErrRefusedKey], check maa-key).
//
// Nonces: MAA copies the client payload verbatim. By the convention of
// Azure's guest attestation library (and both real SEV-SNP tokens in
// testdata/maa) the nonce member is the standard base64 encoding, with
// padding, of the nonce bytes: [Config.Nonce] holds the bytes and the
// claim must equal their base64.
//
// [Bind] ties a verified token to evidence verified by package verify: the
// HCL attestation key, the VM id, REPORT_DATA, the launch measurement, the
// ID key digest and the TCB SVNs must agree; for TDX evidence the token
// must be tdxvm and its tdx_report_data and tdx_mrtd must be the verified
// TD quote's REPORTDATA and MRTD. A token of another platform than the
// evidence's never binds.
package maa
