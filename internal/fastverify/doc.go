// Package fastverify verifies signatures over public inputs faster than the
// standard library, with exactly its accept/reject set.
//
// crypto/ecdsa and crypto/rsa are constant-time, which signature
// verification does not need: the key, the message and the signature are
// all public. This package uses variable-time arithmetic instead: for ECDSA
// P-384 the double-scalar multiplication u1·G + u2·Q of
// github.com/cloudflare/circl's ecc/p384 (CombinedMult), and for RSA a
// math/big modular exponentiation by e = 65537 followed by the full, strict
// encoding check of RFC 8017 (the whole PKCS#1 v1.5 encoded message is
// compared; PSS per section 9.1.2 with the salt length the caller requires).
//
// Every function takes the arguments of its crypto/ecdsa or crypto/rsa
// counterpart and returns what that counterpart returns for every input.
// Inputs outside the fast profile (another curve or hash, an exponent other
// than 65537, a modulus outside 2048..4096 bits, PSS salt-length
// auto-detection, FIPS 140 mode) are handed to the standard library itself.
// Never use this package for signing or anything secret.
package fastverify
