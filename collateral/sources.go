package collateral

import (
	"container/list"
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"

	"github.com/snp-vtpm/snp-vtpm/imds"
	"github.com/snp-vtpm/snp-vtpm/kds"
)

// Kind is what is asked of a Source.
type Kind int

// The kinds of collateral.
const (
	// KindVCEK is a VCEK (DER) for a Key.
	KindVCEK Kind = iota
	// KindCertChain is a product line's ASK then ARK (PEM).
	KindCertChain
	// KindCRL is a product line's VCEK CRL (DER): issued by the ARK, it
	// lists ASKs (KDS /vcek/v1/{product}/crl).
	KindCRL
	// KindVLEKCRL is a product line's VLEK CRL (DER): issued by the ARK,
	// it lists ASVKs (KDS /vlek/v1/{product}/crl).
	KindVLEKCRL
)

// Key names a certificate: the product line, and for a VCEK the chip and
// TCB.
type Key struct {
	// Product is the canonical product line ("Milan", "Genoa", "Turin").
	Product string
	// ChipID is the report's CHIP_ID as requested (VCEK only).
	ChipID []byte
	// HWID is the hardware id KDS names the chip by (VCEK only).
	HWID []byte
	// TCB is the report's REPORTED_TCB (VCEK only).
	TCB uint64
	// Parts are the TCB's parts that the VCEK depends on (VCEK only).
	Parts kds.TCB
}

// NewKey checks a VCEK request and returns its Key.
func NewKey(product string, chipID []byte, tcb uint64) (*Key, error) {
	line, err := kds.ProductLine(product)
	if err != nil {
		return nil, err
	}
	id, err := kds.HWID(line, chipID)
	if err != nil {
		return nil, err
	}
	parts, _ := kds.DecomposeTCB(line, tcb)
	return &Key{Product: line, ChipID: chipID, HWID: id, TCB: tcb, Parts: parts}, nil
}

// String identifies a VCEK: product line, hardware id and the TCB parts
// that the VCEK depends on (reserved TCB bytes do not change the
// certificate). It names its cache file.
func (k *Key) String() string {
	t := k.Parts
	return fmt.Sprintf("%s-%s-fmc%02d-bl%02d-tee%02d-snp%02d-uc%03d", k.Product, hex.EncodeToString(k.HWID), t.FMC, t.Bootloader, t.TEE, t.SNP, t.Microcode)
}

// Query is what the Chain asks a Source.
type Query struct {
	// Key names the certificate.
	*Key
	// Upstream must be called by a source that sends requests before each
	// one (retries included); an error means: do not send, return it.
	Upstream func(what string, retry bool) error
}

// Source offers candidate collateral. Nothing it returns is trusted: the
// Chain validates it. A source without the item returns an error wrapping
// ErrMiss.
type Source interface {
	// Name names the source in logs.
	Name() string
	// Get returns the candidate of kind for q.
	Get(ctx context.Context, kind Kind, q *Query) ([]byte, error)
}

// Upstream marks a Source that sends requests (IMDS, KDS): it is asked
// after the local sources, inside the shared fetch and the negative cache,
// and never when the Chain is Offline.
type Upstream interface {
	Source
	// Upstream is a marker.
	Upstream()
}

// Store is a Source that keeps what the Chain validated (Memory, Disk).
type Store interface {
	Source
	// Store keeps data, which the Chain validated, for k.
	Store(ctx context.Context, kind Kind, k *Key, data []byte)
}

func miss(s Source, kind Kind) error {
	return fmt.Errorf("collateral: %s has no %s: %w", s.Name(), kindName(kind), ErrMiss)
}

func kindName(k Kind) string {
	switch k {
	case KindVCEK:
		return "VCEK"
	case KindCertChain:
		return "cert chain"
	case KindVLEKCRL:
		return "VLEK CRL"
	}
	return "CRL"
}

// Static offers certificates a caller holds (carried in evidence, given
// with --vcek): the first VCEK among them that names the Key.
type Static struct {
	// Certs are DER certificates.
	Certs [][]byte
}

// Name implements Source.
func (s *Static) Name() string { return "given" }

// Get implements Source.
func (s *Static) Get(_ context.Context, kind Kind, q *Query) ([]byte, error) {
	if kind == KindVCEK {
		for _, der := range s.Certs {
			if _, err := kds.MatchVCEK(der, q.Product, q.ChipID, q.TCB); err == nil {
				return der, nil
			}
		}
	}
	return nil, miss(s, kind)
}

// DefaultMemoryCacheSize is the number of VCEKs a Memory keeps when its
// Size is 0.
const DefaultMemoryCacheSize = 256

// Memory is a bounded least-recently-used store of VCEKs. The zero value
// is ready to use.
type Memory struct {
	// Size bounds the VCEKs kept; 0 means DefaultMemoryCacheSize.
	Size int

	mu    sync.Mutex
	order *list.List // front = most recent; values are *lruItem
	items map[string]*list.Element
}

type lruItem struct {
	key string
	val []byte
}

// Name implements Source.
func (m *Memory) Name() string { return "memory" }

// Get implements Source.
func (m *Memory) Get(_ context.Context, kind Kind, q *Query) ([]byte, error) {
	if kind == KindVCEK {
		m.mu.Lock()
		defer m.mu.Unlock()
		if e, ok := m.items[q.String()]; ok {
			m.order.MoveToFront(e)
			return e.Value.(*lruItem).val, nil
		}
	}
	return nil, miss(m, kind)
}

// Store implements Store.
func (m *Memory) Store(_ context.Context, kind Kind, k *Key, der []byte) {
	if kind != KindVCEK {
		return
	}
	key := k.String()
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.items == nil {
		m.order, m.items = list.New(), map[string]*list.Element{}
	}
	if e, ok := m.items[key]; ok {
		e.Value.(*lruItem).val = der
		m.order.MoveToFront(e)
		return
	}
	m.items[key] = m.order.PushFront(&lruItem{key: key, val: der})
	size := m.Size
	if size <= 0 {
		size = DefaultMemoryCacheSize
	}
	for m.order.Len() > size {
		oldest := m.order.Back()
		m.order.Remove(oldest)
		delete(m.items, oldest.Value.(*lruItem).key)
	}
}

// Len returns the number of VCEKs kept.
func (m *Memory) Len() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.items)
}

// Disk keeps collateral in files under Dir: vcek/{line}/{key}.der,
// cert_chain/{line}/{line}.pem, crl/{line}/{line}.crl (the VCEK CRL),
// vlek_crl/{line}/{line}.crl (the VLEK CRL). Files are written
// atomically; what is read is validated by the Chain like anything else (a
// file that fails is ignored and replaced). Files are read and written
// only below Dir, through an os.Root: a directory below Dir that is a
// symbolic link (Dir itself may be one) is ErrCacheLink, so the item is
// fetched and its write refused and logged, never made where the link
// points.
type Disk struct {
	// Dir is the cache directory (see kds.DefaultCacheDir).
	Dir string
	// Logger receives a line for each file that could not be written.
	Logger *slog.Logger
}

// Name implements Source.
func (d *Disk) Name() string { return "disk" }

// Path returns the file of kind for k.
func (d *Disk) Path(kind Kind, k *Key) string { return filepath.Join(d.Dir, d.rel(kind, k)) }

// rel returns the file of kind for k, relative to Dir.
func (d *Disk) rel(kind Kind, k *Key) string {
	switch kind {
	case KindVCEK:
		return filepath.Join("vcek", k.Product, k.String()+".der")
	case KindCertChain:
		return filepath.Join("cert_chain", k.Product, k.Product+".pem")
	case KindVLEKCRL:
		return filepath.Join("vlek_crl", k.Product, k.Product+".crl")
	}
	return filepath.Join("crl", k.Product, k.Product+".crl")
}

func maxSize(kind Kind) int64 {
	switch kind {
	case KindVCEK:
		return kds.MaxVCEKSize
	case KindCertChain:
		return kds.MaxChainSize
	}
	return kds.MaxCRLSize
}

// Get implements Source.
func (d *Disk) Get(_ context.Context, kind Kind, q *Query) ([]byte, error) {
	b, err := readCacheFile(d.Dir, d.rel(kind, q.Key), maxSize(kind))
	if errors.Is(err, os.ErrNotExist) {
		return nil, miss(d, kind)
	}
	return b, err
}

// Store implements Store.
func (d *Disk) Store(ctx context.Context, kind Kind, k *Key, data []byte) {
	if err := writeCacheFile(d.Dir, d.rel(kind, k), data); err != nil && d.Logger != nil {
		d.Logger.WarnContext(ctx, "could not write the disk cache", "path", d.Path(kind, k), "err", err)
	}
}

// IMDS asks Azure IMDS (THIM) for the VCEK of the machine it runs on
// (inside an Azure CVM only). Its VCEK is used only if it validates for
// the request; otherwise the Chain asks the next source.
type IMDS struct {
	// Client is the IMDS transport.
	Client *imds.Client
}

// Name implements Source.
func (s *IMDS) Name() string { return "Azure IMDS" }

// Upstream implements Upstream.
func (s *IMDS) Upstream() {}

// Get implements Source.
func (s *IMDS) Get(ctx context.Context, kind Kind, q *Query) ([]byte, error) {
	if kind != KindVCEK {
		return nil, miss(s, kind)
	}
	cert, err := s.Client.CertificationHook(ctx, func(string, bool) error { return q.Upstream("VCEK (IMDS)", false) })
	if err != nil {
		return nil, fmt.Errorf("collateral: asking IMDS for the VCEK: %w", err)
	}
	return cert.VCEK, nil
}

// KDS asks AMD KDS.
type KDS struct {
	// Client is the KDS transport.
	Client *kds.Client
}

// Name implements Source.
func (s *KDS) Name() string { return "AMD KDS" }

// Upstream implements Upstream.
func (s *KDS) Upstream() {}

// Get implements Source.
func (s *KDS) Get(ctx context.Context, kind Kind, q *Query) ([]byte, error) {
	switch kind {
	case KindVCEK:
		return s.Client.VCEK(ctx, q.Product, q.ChipID, q.TCB, q.Upstream)
	case KindCertChain:
		return s.Client.CertChain(ctx, q.Product, q.Upstream)
	case KindVLEKCRL:
		return s.Client.VLEKCRL(ctx, q.Product, q.Upstream)
	}
	return s.Client.CRL(ctx, q.Product, q.Upstream)
}
