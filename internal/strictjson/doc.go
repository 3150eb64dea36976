// Package strictjson is the one JSON decoder of this module for everything
// an attacker or a user writes: evidence, the HCL runtime data, policy
// files, server request and response bodies, IMDS answers.
//
// It is github.com/go-json-experiment/json (encoding/json/v2) with every
// leniency turned off and the bounds this module needs added:
//
//   - a member name may appear only once in an object, at every depth,
//     including inside members that are skipped as unknown
//     ([ErrDuplicateKey]);
//   - strings and member names must be valid UTF-8 ([ErrInvalidUTF8]);
//   - the input is exactly one JSON value with white space around it
//     ([ErrTrailingData] for anything else after it);
//   - the input is at most [Options.MaxBytes] bytes ([ErrTooLarge]) and
//     nests at most [Options.MaxDepth] objects and arrays deep
//     ([ErrTooDeep]), checked before decoding starts;
//   - member names match struct fields exactly, case-sensitively;
//   - a []byte is standard padded base64 in its one form (no non-zero
//     bits after the last byte, which the v2 default accepts);
//   - a signed integer (int, int64) is not written -0, which the v2
//     default took for 0;
//   - with [Options.RejectUnknown] (formats that are ours: policy files,
//     the server API) a member no field takes is an error
//     ([ErrUnknownMember]). Formats written by others (Azure's runtime
//     data, evidence of the Confidential Containers tooling) tolerate
//     unknown members, but a struct can still reject a name that differs
//     from one of its own only in letter case ([ErrCaseMismatch]) by
//     collecting its unknown members in an [Unknown] field.
//
// Errors are [*Error] values: a kind (one of the Err sentinels, usable with
// errors.Is), the JSON pointer (RFC 6901) of the offending value where the
// decoder knows it, and the byte offset. They never quote more than a short,
// escaped prefix of the input.
//
// Encoding is not this package's concern: writing JSON with encoding/json is
// fine, since what this module writes is not attacker input.
package strictjson
