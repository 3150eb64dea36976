package rediscache_test

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/pem"
	"math/big"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/snp-vtpm/snp-vtpm/collateral"
	"github.com/snp-vtpm/snp-vtpm/collateral/rediscache"
	"github.com/snp-vtpm/snp-vtpm/internal/fakepki"
	"github.com/snp-vtpm/snp-vtpm/internal/testev"
	"github.com/snp-vtpm/snp-vtpm/internal/testutil"
	"github.com/snp-vtpm/snp-vtpm/kds"
	"github.com/snp-vtpm/snp-vtpm/snp"
	"github.com/snp-vtpm/snp-vtpm/verify"
)

func TestMain(m *testing.M) {
	redis.SetLogger(quiet{}) // the dial failures of TestRedisDown are expected
	os.Exit(m.Run())
}

type quiet struct{}

func (quiet) Printf(context.Context, string, ...any) {}

// fakeKDS serves one VCEK, the Milan cert chain, a CRL as the VCEK CRL
// and another (CRL number 2) as the VLEK CRL, slowly (so that concurrent
// misses overlap), counting requests by kind.
type fakeKDS struct {
	*httptest.Server
	vcek, chain, crl, vlekCRL atomic.Int64
}

func newFakeKDS(t *testing.T, ev *testev.Evidence, crl []byte) *fakeKDS {
	t.Helper()
	f := &fakeKDS{}
	vlekCRL := numberedCRL(t, ev.Chain, 2)
	f.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		time.Sleep(30 * time.Millisecond)
		switch {
		case r.URL.Path == "/vcek/v1/Milan/cert_chain":
			f.chain.Add(1)
			w.Write(ev.Chain.ChainPEM())
		case r.URL.Path == "/vcek/v1/Milan/crl":
			f.crl.Add(1)
			w.Write(crl)
		case r.URL.Path == "/vlek/v1/Milan/crl":
			f.vlekCRL.Add(1)
			w.Write(vlekCRL)
		case r.URL.Path == "/vcek/v1/Milan/"+hex.EncodeToString(ev.ChipID[:]):
			f.vcek.Add(1)
			w.Write(ev.VCEKDER)
		default:
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(f.Close)
	return f
}

func newClient(t *testing.T, r *testutil.Redis) *redis.Client {
	t.Helper()
	opts, err := redis.ParseURL(r.URL)
	if err != nil {
		t.Fatal(err)
	}
	opts.MaxRetries, opts.DialerRetries = -1, 1
	opts.DialTimeout, opts.ReadTimeout, opts.WriteTimeout = 300*time.Millisecond, 300*time.Millisecond, 300*time.Millisecond
	c := redis.NewClient(opts)
	t.Cleanup(func() { c.Close() })
	return c
}

// replica is one verifier of the fleet: its own Memory, the shared Redis
// cache, the fake KDS.
type replica struct {
	chain *collateral.Chain
	cache *rediscache.Cache
	v     *verify.Verifier
}

func newReplica(t *testing.T, rdb *redis.Client, kdsURL string, roots *snp.Roots) *replica {
	t.Helper()
	cache := &rediscache.Cache{Client: rdb, Prefix: "t:", LockTTL: 2 * time.Second}
	chain := &collateral.Chain{
		Sources: []collateral.Source{&collateral.Memory{}, cache, &collateral.KDS{Client: &kds.Client{BaseURL: kdsURL, MaxRetries: -1}}},
		ARK: func(product string) *x509.Certificate {
			if cs := roots.Chains(snp.Product(product)); len(cs) > 0 {
				return cs[0].ARK
			}
			return nil
		},
	}
	v, err := verify.New(verify.Config{Roots: roots, VCEKGetter: chain, Revocation: chain})
	if err != nil {
		t.Fatal(err)
	}
	return &replica{chain: chain, cache: cache, v: v}
}

func testCRL(t *testing.T, ch *testev.Chain) []byte { return numberedCRL(t, ch, 1) }

// numberedCRL is testCRL with CRL number n.
func numberedCRL(t *testing.T, ch *testev.Chain, n int64) []byte {
	t.Helper()
	now := time.Now()
	der, err := x509.CreateRevocationList(rand.Reader, &x509.RevocationList{
		Number: big.NewInt(n), ThisUpdate: now.Add(-time.Hour), NextUpdate: now.Add(48 * time.Hour),
	}, ch.ARK, testev.ARKKey())
	if err != nil {
		t.Fatal(err)
	}
	return der
}

// oneReplica starts Redis and a fake KDS for evidence of a chip no
// replica has seen (its id made from b), without a VCEK, and one replica.
func oneReplica(t *testing.T, b byte) (*testutil.Redis, *redis.Client, *testev.Evidence, *fakeKDS, *replica) {
	t.Helper()
	r := testutil.StartRedis(t)
	rdb := newClient(t, r)
	ev := (&testev.Builder{OmitVCEK: true, ChipID: unseenChip(b)}).MustBuild()
	k := newFakeKDS(t, ev, testCRL(t, ev.Chain))
	return r, rdb, ev, k, newReplica(t, rdb, k.URL, testev.Roots())
}

func unseenChip(b byte) *[64]byte {
	var id [64]byte
	for i := range id {
		id[i] = b ^ byte(i)
	}
	return &id
}

// TestFleetOneKDSRequest: N replicas sharing one real Redis verify
// evidence of one unseen chip concurrently (several requests each): one
// VCEK, one cert chain and one CRL request reach KDS between them all.
func TestFleetOneKDSRequest(t *testing.T) {
	r := testutil.StartRedis(t)
	rdb := newClient(t, r)
	ev := (&testev.Builder{OmitVCEK: true, ChipID: unseenChip(0xa5)}).MustBuild()
	k := newFakeKDS(t, ev, testCRL(t, ev.Chain))
	const n, perReplica = 4, 3
	reps := make([]*replica, n)
	for i := range reps {
		reps[i] = newReplica(t, rdb, k.URL, testev.Roots())
	}
	var wg sync.WaitGroup
	errs := make(chan error, n*perReplica)
	start := make(chan struct{})
	for _, rep := range reps {
		for range perReplica {
			wg.Go(func() {
				<-start
				_, err := rep.v.Evidence(context.Background(), ev.JSON, ev.Nonce)
				errs <- err
			})
		}
	}
	close(start)
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatalf("verification failed: %v", err)
		}
	}
	if got := [3]int64{k.vcek.Load(), k.chain.Load(), k.crl.Load()}; got != [3]int64{1, 0, 1} {
		t.Errorf("KDS requests (vcek, chain, crl) = %v, want one of each needed", got)
	}
	var fleetHits, waits int64
	for _, rep := range reps {
		s := rep.chain.Stats()
		fleetHits += s.FleetHits
		waits += s.LockWaits
	}
	if fleetHits < n-1 {
		t.Errorf("%d answers from Redis, want at least %d (every other replica)", fleetHits, n-1)
	}
	t.Logf("KDS: vcek %d, chain %d, crl %d; fleet hits %d, lock waits %d", k.vcek.Load(), k.chain.Load(), k.crl.Load(), fleetHits, waits)
}

// TestFleetVLEKCRL: replicas sharing one real Redis verify a VLEK-signed
// report with revocation checking concurrently: one VLEK CRL request and
// one VCEK CRL request (both CRLs are read) reach KDS between them all,
// and the VLEK CRL is kept under its own key, apart from the VCEK CRL's.
func TestFleetVLEKCRL(t *testing.T) {
	r := testutil.StartRedis(t)
	rdb := newClient(t, r)
	ev := (&testev.Builder{VCEK: testev.VCEKTemplate{VLEK: true}}).MustBuild()
	k := newFakeKDS(t, ev, testCRL(t, ev.Chain))
	reps := make([]*replica, 3)
	for i := range reps {
		reps[i] = newReplica(t, rdb, k.URL, testev.Roots())
	}
	var wg sync.WaitGroup
	errs := make(chan error, len(reps)*2)
	for _, rep := range reps {
		for range 2 {
			wg.Go(func() {
				_, err := rep.v.Evidence(context.Background(), ev.JSON, ev.Nonce)
				errs <- err
			})
		}
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatalf("verification failed: %v", err)
		}
	}
	if got := [2]int64{k.crl.Load(), k.vlekCRL.Load()}; got != [2]int64{1, 1} {
		t.Errorf("KDS requests (VCEK CRL, VLEK CRL) = %v, want [1 1]", got)
	}
	key := &collateral.Key{Product: "Milan"}
	vlekKey, vcekKey := reps[0].cache.Key(collateral.KindVLEKCRL, key), reps[0].cache.Key(collateral.KindCRL, key)
	if vlekKey == vcekKey {
		t.Fatalf("VLEK and VCEK CRLs share the key %q", vlekKey)
	}
	if n, err := rdb.Exists(context.Background(), vlekKey).Result(); err != nil || n != 1 {
		t.Errorf("VLEK CRL not in Redis under %q: %d, %v", vlekKey, n, err)
	}
	vlekDER, err1 := rdb.Get(context.Background(), vlekKey).Bytes()
	vcekDER, err2 := rdb.Get(context.Background(), vcekKey).Bytes()
	if err1 != nil || err2 != nil || bytes.Equal(vlekDER, vcekDER) {
		t.Errorf("VCEK CRL under %q and VLEK CRL under %q: %v, %v, want two different CRLs", vcekKey, vlekKey, err1, err2)
	}
}

// TestForgedEntryRejected: Redis is not trusted with integrity. Another
// chip's VCEK, a certificate under an untrusted chain or garbage written
// under the key are passed over and replaced by a fetch from KDS.
func TestForgedEntryRejected(t *testing.T) {
	r := testutil.StartRedis(t)
	rdb := newClient(t, r)
	chip := unseenChip(0x3c)
	ev := (&testev.Builder{OmitVCEK: true, ChipID: chip}).MustBuild()
	other := (&testev.Builder{ChipID: unseenChip(0x77)}).MustBuild()
	untrusted, err := testev.NewChain(snp.Milan, testev.OtherRSAKey(), testev.OtherRSAKey(), nil)
	if err != nil {
		t.Fatal(err)
	}
	forgedUnderOther := (&testev.Builder{ChipID: chip, Chain: untrusted}).MustBuild()
	key, err := collateral.NewKey("Milan", ev.ChipID[:], reportedTCB(t, ev))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name  string
		entry []byte
	}{
		{"other chip's VCEK", other.VCEKDER},
		{"VCEK of this chip under an untrusted chain", forgedUnderOther.VCEKDER},
		{"garbage", []byte("not a certificate")},
		{"oversized", bytes.Repeat([]byte{0x30}, kds.MaxVCEKSize+1)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := rdb.FlushDB(context.Background()).Err(); err != nil {
				t.Fatal(err)
			}
			k := newFakeKDS(t, ev, testCRL(t, ev.Chain))
			rep := newReplica(t, rdb, k.URL, testev.Roots())
			rkey := rep.cache.Key(collateral.KindVCEK, key)
			if err := rdb.Set(context.Background(), rkey, tc.entry, time.Hour).Err(); err != nil {
				t.Fatal(err)
			}
			if _, err := rep.v.Evidence(context.Background(), ev.JSON, ev.Nonce); err != nil {
				t.Fatalf("verification failed: %v", err)
			}
			if n := k.vcek.Load(); n != 1 {
				t.Errorf("%d KDS VCEK requests, want 1 (the forged entry refetched)", n)
			}
			if s := rep.chain.Stats(); s.FleetHits != 0 {
				t.Errorf("the forged entry was used (%d fleet hits)", s.FleetHits)
			}
			got, err := rdb.Get(context.Background(), rkey).Bytes()
			if err != nil || !bytes.Equal(got, ev.VCEKDER) {
				t.Errorf("Redis entry not replaced by the validated VCEK (err %v)", err)
			}
		})
	}
}

// TestRedisDown: with Redis stopped, verification goes on to KDS and the
// failures are counted.
func TestRedisDown(t *testing.T) {
	r, _, ev, k, rep := oneReplica(t, 0x11)
	r.Stop()
	if _, err := rep.v.Evidence(context.Background(), ev.JSON, ev.Nonce); err != nil {
		t.Fatalf("verification failed with Redis down: %v", err)
	}
	if n := k.vcek.Load(); n != 1 {
		t.Errorf("%d KDS VCEK requests, want 1", n)
	}
	if s := rep.cache.Stats(); s.Errors == 0 {
		t.Errorf("Redis errors not counted: %+v", s)
	}
	if s := rep.chain.Stats(); s.LockErrors == 0 {
		t.Errorf("lock errors not counted: %+v", s)
	}
	// A lock that cannot be asked is an error, not "another replica
	// holds it" (which would make the Chain wait instead of fetching).
	if unlock, ok, err := rep.cache.TryLock(context.Background(), "vcek/down"); err == nil || ok || unlock != nil {
		t.Errorf("TryLock with Redis down = %v, %v; want an error", ok, err)
	}
}

// TestCrashedHolder: a lock left by a crashed replica delays the others
// until it expires; then one fetches.
func TestCrashedHolder(t *testing.T) {
	_, rdb, ev, k, rep := oneReplica(t, 0x22)
	key, err := collateral.NewKey("Milan", ev.ChipID[:], reportedTCB(t, ev))
	if err != nil {
		t.Fatal(err)
	}
	const held = 300 * time.Millisecond
	if err := rdb.Set(context.Background(), "t:col:lock:vcek/"+key.String(), "crashed", held).Err(); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	if _, err := rep.chain.GetVCEK(context.Background(), verify.VCEKRequest{Product: "Milan", ChipID: ev.ChipID[:], ReportedTCB: reportedTCB(t, ev)}); err != nil {
		t.Fatal(err)
	}
	if el := time.Since(start); el < held-50*time.Millisecond {
		t.Errorf("fetched after %v, before the crashed holder's lock expired", el)
	}
	if n := k.vcek.Load(); n != 1 {
		t.Errorf("%d KDS VCEK requests, want 1", n)
	}
	// A waiter whose context ends stops waiting.
	other := (&testev.Builder{ChipID: unseenChip(0x23)}).MustBuild()
	okey, err := collateral.NewKey("Milan", other.ChipID[:], reportedTCB(t, other))
	if err != nil {
		t.Fatal(err)
	}
	if err := rdb.Set(context.Background(), "t:col:lock:vcek/"+okey.String(), "crashed", time.Minute).Err(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	_, err = rep.chain.GetVCEK(ctx, verify.VCEKRequest{Product: "Milan", ChipID: other.ChipID[:], ReportedTCB: reportedTCB(t, other)})
	if err == nil || !strings.Contains(err.Error(), "another replica") || k.vcek.Load() != 1 {
		t.Errorf("GetVCEK with a held lock and an ending context = %v", err)
	}
}

func reportedTCB(t *testing.T, ev *testev.Evidence) uint64 {
	t.Helper()
	rep, err := snp.ParseReport(ev.Report)
	if err != nil {
		t.Fatal(err)
	}
	return uint64(rep.ReportedTCB)
}

// TestEntryTTL: an entry lives until the certificate's own expiry or
// MaxTTL, whichever is first; an expired certificate is not kept.
func TestEntryTTL(t *testing.T) {
	r := testutil.StartRedis(t)
	rdb := newClient(t, r)
	ev := (&testev.Builder{ChipID: unseenChip(0x44)}).MustBuild()
	cert, err := x509.ParseCertificate(ev.VCEKDER)
	if err != nil {
		t.Fatal(err)
	}
	key, err := collateral.NewKey("Milan", ev.ChipID[:], reportedTCB(t, ev))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name    string
		now     time.Time
		maxTTL  time.Duration
		lo, hi  time.Duration
		missing bool
	}{
		{"bounded by MaxTTL", cert.NotAfter.Add(-48 * time.Hour), time.Hour, 59 * time.Minute, time.Hour, false},
		{"bounded by NotAfter", cert.NotAfter.Add(-10 * time.Second), time.Hour, 8 * time.Second, 10 * time.Second, false},
		{"expired", cert.NotAfter.Add(time.Second), time.Hour, 0, 0, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := &rediscache.Cache{Client: rdb, Prefix: "ttl:", MaxTTL: tc.maxTTL, Now: func() time.Time { return tc.now }}
			rdb.FlushDB(context.Background())
			c.Store(context.Background(), collateral.KindVCEK, key, ev.VCEKDER)
			wantPTTL(t, rdb, c.Key(collateral.KindVCEK, key), tc.missing, tc.lo, tc.hi)
		})
	}
}

// TestEntryTTLCertChain: a cert chain lives until the earliest NotAfter
// of its certificates, wherever that one is in the chain; a chain that
// does not parse, or holds no certificate, is not stored.
func TestEntryTTLCertChain(t *testing.T) {
	r := testutil.StartRedis(t)
	rdb := newClient(t, r)
	now := time.Now()
	pemOf := func(notAfter ...time.Time) []byte {
		var out []byte
		for i, na := range notAfter {
			key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
			if err != nil {
				t.Fatal(err)
			}
			tmpl := &x509.Certificate{SerialNumber: big.NewInt(int64(i + 1)), Subject: pkix.Name{CommonName: "chain test"},
				NotBefore: now.Add(-time.Hour), NotAfter: na}
			c, err := fakepki.Issue(tmpl, tmpl, &key.PublicKey, key)
			if err != nil {
				t.Fatal(err)
			}
			out = append(out, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})...)
		}
		return out
	}
	key, err := collateral.NewKey("Milan", unseenChip(0x45)[:], 0)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name    string
		data    []byte
		lo, hi  time.Duration
		missing bool
	}{
		{"first expires first", pemOf(now.Add(time.Hour), now.Add(2*time.Hour)), 59 * time.Minute, time.Hour, false},
		{"last expires first", pemOf(now.Add(2*time.Hour), now.Add(3*time.Hour), now.Add(time.Hour)), 59 * time.Minute, time.Hour, false},
		{"not PEM", []byte("not a chain"), 0, 0, true},
		{"no certificate", pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: []byte{1}}), 0, 0, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := &rediscache.Cache{Client: rdb, Prefix: "chainttl:", Now: func() time.Time { return now }}
			rdb.FlushDB(context.Background())
			c.Store(context.Background(), collateral.KindCertChain, key, tc.data)
			wantPTTL(t, rdb, c.Key(collateral.KindCertChain, key), tc.missing, tc.lo, tc.hi)
		})
	}
}

// TestEntrySizeBound: an entry is read back only when it holds 1 to the
// kind's bound of bytes (what KDS may serve): exactly the bound is read,
// one byte more or an empty entry is refused.
func TestEntrySizeBound(t *testing.T) {
	r := testutil.StartRedis(t)
	rdb := newClient(t, r)
	key, err := collateral.NewKey("Milan", unseenChip(0x46)[:], 0)
	if err != nil {
		t.Fatal(err)
	}
	c := &rediscache.Cache{Client: rdb, Prefix: "size:"}
	for _, tc := range []struct {
		kind  collateral.Kind
		limit int
	}{
		{collateral.KindVCEK, kds.MaxVCEKSize},
		{collateral.KindCertChain, kds.MaxChainSize},
		{collateral.KindCRL, kds.MaxCRLSize},
	} {
		for _, n := range []int{0, tc.limit, tc.limit + 1} {
			if err := rdb.Set(context.Background(), c.Key(tc.kind, key), make([]byte, n), time.Minute).Err(); err != nil {
				t.Fatal(err)
			}
			got, err := c.Get(context.Background(), tc.kind, &collateral.Query{Key: key})
			if ok := n > 0 && n <= tc.limit; ok != (err == nil) || ok && len(got) != n {
				t.Errorf("kind %v, entry of %d bytes (bound %d): %d bytes, %v", tc.kind, n, tc.limit, len(got), err)
			}
		}
	}
}

// wantPTTL checks the time to live of the Redis key: in [lo, hi], or, when
// missing, that nothing (or nothing that expires) is stored under it.
func wantPTTL(t *testing.T, rdb *redis.Client, key string, missing bool, lo, hi time.Duration) {
	t.Helper()
	ttl, err := rdb.PTTL(context.Background(), key).Result()
	if err != nil {
		t.Fatal(err)
	}
	if missing {
		if ttl != -2*time.Nanosecond && ttl >= 0 {
			t.Errorf("stored (PTTL %v)", ttl)
		}
		return
	}
	if ttl < lo || ttl > hi {
		t.Errorf("PTTL %v, want in [%v, %v]", ttl, lo, hi)
	}
}
