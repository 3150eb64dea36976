// Package result is the signed attestation result of snp-vtpm serve: a JWT
// (compact JWS, ES256 over P-256) whose claims follow the IETF RATS EAT
// Attestation Result (EAR) profile where it fits (eat_profile, iat, exp,
// ear.verifier-id, eat_nonce, submods with ear.status and
// ear.appraisal-policy-id) and carry, under the private submodule
// extension "snp-vtpm", the verified claims a relying party needs: platform,
// product, chip id, measurement, ID key digest and paravisor, TCB, the PCRs
// the quote bound and those the policy pinned, vm_unique_id, the resource
// released. docs/remote-attestation.md documents every claim.
//
// The package owns the token format both ways: [Signer.Sign] makes a token,
// [Verify] checks one with a [KeySet] (from the verifier's JWKS,
// [ParseJWKS]) in this order, every failure an *[Error] naming the check:
// format (three base64url parts, strict header, bounded sizes), alg (ES256
// only: none, HS*, RS* and unknown algorithms are rejected), key (the kid
// names a key of the JWKS), signature (64-byte r||s, low S), claims
// (strict JSON: unknown and duplicate members, trailing data rejected),
// profile, issuer, audience, time (exp, nbf, iat with a skew), status,
// nonce and resource (Config.Resource). Keys are P-256 only: [LoadSigningKey] reads PKCS#8 or SEC1 PEM
// strictly; key ids are RFC 7638 JWK thumbprints. [FetchJWKS] is the
// package's only I/O: a verifier's published JWKS, for relying parties.
package result
