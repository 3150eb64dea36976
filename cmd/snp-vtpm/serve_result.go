package main

import (
	"crypto/ecdsa"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"

	"github.com/snp-vtpm/snp-vtpm/result"
	"github.com/snp-vtpm/snp-vtpm/server"
)

// serveReleaseHelp is the part of serve's help about what it releases.
const serveReleaseHelp = `With --secrets-dir DIR every file of DIR is a resource named by its relative path
(letters, digits, '.', '_', '-', '/'; symbolic links only within DIR; regular files
only, none writable by every user); the request's
"resource" (attest --resource) picks one, and NAME.policy.json beside it (the --policy
format) adds requirements: failing them is 403 naming the check, an unknown name 404
(once the evidence passed the server's policy: before, every name gets the same answer).
A request without a resource gets --secret-file. The log records which VM (chip id,
vm_unique_id) got which resource, never the secret.

With --signing-key FILE (P-256, PKCS#8 or SEC1 PEM; --dev generates a missing one)
every success also returns a signed attestation result (an ES256 JWT shaped after the
IETF EAT Attestation Result) whose key /.well-known/jwks.json publishes, with
/.well-known/openid-configuration (issuer: --issuer, default the listening URL);
"snp-vtpm result verify" checks one. Replicas behind one address share --signing-key and
--issuer; to rotate the key, give every replica --publish-keys FILE (a JWKS, such as
/.well-known/jwks.json saved from a replica) holding the old and the new public key
before any replica signs with the new one, and drop the old key once its tokens expired.

`

// releaseFlags are serve's flags about what is released: the single
// secret, secrets per resource, and the signed result.
type releaseFlags struct {
	secretFile string
	secretsDir string
	signingKey string
	issuer     string
	audience   string
	publish    string
	dev        bool
}

// register adds the flags to serve.
func (f *releaseFlags) register(fs interface {
	StringVar(p *string, name, value, usage string)
	BoolVar(p *bool, name string, value bool, usage string)
}) {
	fs.StringVar(&f.secretFile, "secret-file", "", "file whose content is released to attested CVMs that name no resource")
	fs.StringVar(&f.secretsDir, "secrets-dir", "", "directory of secrets per resource (NAME, and NAME.policy.json for extra requirements)")
	fs.StringVar(&f.signingKey, "signing-key", "", "P-256 private key (PKCS#8 or SEC1 PEM) that signs attestation-result tokens")
	fs.StringVar(&f.issuer, "issuer", "", "iss of the tokens and issuer of /.well-known/openid-configuration (default: the listening URL)")
	fs.StringVar(&f.audience, "audience", "", "aud of the tokens (default: none)")
	fs.StringVar(&f.publish, "publish-keys", "", "JWKS file of other token keys to publish beside --signing-key's (key rotation across replicas)")
	fs.BoolVar(&f.dev, "dev", false, "development: generate --signing-key (mode 0600) if the file does not exist")
}

// release is what serve releases, read from the flags.
type release struct {
	secret    []byte
	resources map[string]server.Resource
	signer    *result.Signer
	publish   []*ecdsa.PublicKey // --publish-keys
}

// load reads the secret, the secrets directory and the signing key. A
// missing or wrong key is an error (exit 1); with --dev only, a missing
// key file is created.
func (f *releaseFlags) load(log *slog.Logger, listen string) (*release, error) {
	if f.secretFile == "" && f.secretsDir == "" {
		return nil, errors.New("give --secret-file FILE, --secrets-dir DIR or both")
	}
	if f.dev && f.signingKey == "" {
		return nil, errors.New("--dev needs --signing-key FILE (the file it generates)")
	}
	var r release
	var err error
	if f.secretFile != "" {
		if r.secret, err = readSecret(f.secretFile); err != nil {
			return nil, err
		}
	}
	if f.secretsDir != "" {
		if r.resources, err = server.LoadSecretsDir(f.secretsDir); err != nil {
			return nil, fmt.Errorf("--secrets-dir: %w", err)
		}
		log.Info("secrets per resource", "dir", f.secretsDir, "resources", len(r.resources))
	}
	if f.signingKey == "" {
		if f.publish != "" {
			return nil, errors.New("--publish-keys needs --signing-key (it publishes keys beside the signing key's)")
		}
		return &r, nil
	}
	if f.publish != "" {
		if r.publish, err = readPublishKeys(f.publish); err != nil {
			return nil, err
		}
	}
	key, err := f.loadKey(log)
	if err != nil {
		return nil, err
	}
	issuer := f.issuer
	if issuer == "" {
		issuer = "http://" + listen // replaced by the bound URL once listening
	}
	if r.signer, err = result.NewSigner(key, issuer); err != nil {
		return nil, err
	}
	r.signer.Audience, r.signer.Build = f.audience, "snp-vtpm "+buildVersion().Version
	return &r, nil
}

// readPublishKeys reads the JWKS file of --publish-keys.
func readPublishKeys(path string) ([]*ecdsa.PublicKey, error) {
	data, err := readFile("--publish-keys", path)
	if err != nil {
		return nil, err
	}
	ks, err := result.ParseJWKS(data)
	if err != nil {
		return nil, fmt.Errorf("--publish-keys %s: %w", path, err)
	}
	return ks.PublicKeys(), nil
}

// loadKey reads --signing-key, generating it with --dev when missing.
func (f *releaseFlags) loadKey(log *slog.Logger) (*ecdsa.PrivateKey, error) {
	data, err := readFile("--signing-key", f.signingKey)
	if errors.Is(err, fs.ErrNotExist) && f.dev {
		key, pemData, err := result.GenerateSigningKey()
		if err != nil {
			return nil, err
		}
		file, err := os.OpenFile(f.signingKey, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
		if err != nil {
			return nil, fmt.Errorf("--signing-key: %w", err)
		}
		if _, err := file.Write(pemData); err != nil {
			file.Close()
			return nil, fmt.Errorf("--signing-key: %w", err)
		}
		if err := file.Close(); err != nil {
			return nil, fmt.Errorf("--signing-key: %w", err)
		}
		j, _ := result.PublicJWK(&key.PublicKey)
		log.Warn("generated a signing key (--dev): for development only", "file", f.signingKey, "kid", j.Kid)
		return key, nil
	}
	if err != nil {
		return nil, err
	}
	key, err := result.LoadSigningKey(data)
	if err != nil {
		return nil, fmt.Errorf("--signing-key %s: %w", f.signingKey, err)
	}
	return key, nil
}
