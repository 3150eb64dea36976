// Package pcs owns Intel's PCS collateral for TDX: the TCB info (version
// 3, id "TDX") and QE identity (version 2, id "TD_QE") JSON documents, the
// TCB signing chain that signs them, the PCK CRL and the Intel SGX Root CA
// CRL. It parses them strictly (internal/strictjson: duplicate members,
// unknown members, trailing data and bad UTF-8 are errors), verifies every
// signature under the pinned Intel SGX Root CA and every validity window at
// the verification time, and evaluates a verified TD quote against them:
// FMSPC and PCE-ID, the platform TCB level (SGX components and PCESVN of
// the PCK certificate, TDX components of TEE_TCB_SVN), the TDX module
// identity, the QE identity, revocation of the PCK and its CA, and Intel's
// combined TCB status with its advisory IDs (Evaluate).
//
// Parsing and evaluation do no I/O; LoadDir reads a collateral directory
// through an fs.FS.
package pcs
