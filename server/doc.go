// Package server is the remote-attestation verifier service and its client:
// a relying party that releases a secret only to an Azure SEV-SNP or TDX CVM
// whose vTPM evidence verifies.
//
// The protocol (see docs/remote-attestation.md):
//
//  1. The attester makes an ephemeral HPKE key pair (Suite) and asks
//     POST /v1/challenge for a single-use random challenge.
//  2. Both sides compute nonce = Nonce(challenge, publicKey) =
//     SHA-384(challenge ‖ publicKey). The attester quotes it with the vTPM
//     (and may refresh the SNP report with it as user data: v2 evidence).
//  3. POST /v1/attest carries {challenge, evidence, public_key}. The server
//     spends the challenge (exactly once, even under concurrent replays),
//     verifies the evidence against the nonce with its verify.Verifier and
//     answers with the secret sealed to the public key, HPKE info
//     InfoPrefix ‖ nonce, and a summary of the claims.
//
// Since the quote signs the nonce, and the nonce hashes the public key,
// only the holder of the private key that the attested VM generated can
// open the secret: a man in the middle that substitutes its own key changes
// the nonce and fails the quote-nonce check.
//
// Errors are JSON (ErrorResponse) with a "check": the failed verification
// check (403), "challenge" (401: unknown, used or expired challenge) or
// "request" (400). Bodies over the limit get 413, an exhausted challenge
// store 429.
package server
