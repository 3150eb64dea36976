package server

import (
	"container/list"
	"crypto/rand"
	"errors"
	"fmt"
	"sync"
	"time"
)

// Challenge store errors.
var (
	// errTooManyChallenges means the store holds its maximum of
	// outstanding challenges (all clients together).
	errTooManyChallenges = errors.New("too many outstanding challenges")
	// errClientChallenges means the client holds its maximum of
	// outstanding challenges.
	errClientChallenges = errors.New("too many outstanding challenges for this client; use or let expire the ones issued")
	// errUnknownChallenge means the challenge was never issued, was
	// already used, or was evicted after expiring.
	errUnknownChallenge = errors.New("unknown or already used challenge")
	// errExpiredChallenge means the challenge expired before use.
	errExpiredChallenge = errors.New("challenge expired")
)

type challengeKey [ChallengeSize]byte

type challengeEntry struct {
	key     challengeKey
	expires time.Time
	client  *clientCount
}

// clientCount is the number of outstanding challenges of one client; it is
// shared by the client's entries and dropped with the last of them.
type clientCount struct {
	key string
	n   int
}

// challengeStore holds outstanding challenges in memory: at most max of
// them, at most perClient per client, each usable once until it expires.
// Since every challenge lives for the same TTL, insertion order is expiry
// order: the list's front expires first, so evicting expired challenges
// costs O(evicted).
type challengeStore struct {
	ttl       time.Duration
	max       int
	perClient int
	now       func() time.Time

	mu       sync.Mutex
	byKey    map[challengeKey]*list.Element // of challengeEntry
	order    *list.List                     // oldest first
	byClient map[string]*clientCount
}

func newChallengeStore(ttl time.Duration, max, perClient int, now func() time.Time) *challengeStore {
	return &challengeStore{ttl: ttl, max: max, perClient: perClient, now: now,
		byKey: make(map[challengeKey]*list.Element), order: list.New(), byClient: make(map[string]*clientCount)}
}

// issue returns a fresh random challenge for client and its expiry. It
// fails with errTooManyChallenges when the store is full and with
// errClientChallenges when client holds its share; retry then says when
// the oldest challenge concerned expires.
func (s *challengeStore) issue(client string) (k challengeKey, expires time.Time, retry time.Duration, err error) {
	if _, err := rand.Read(k[:]); err != nil {
		return k, time.Time{}, 0, fmt.Errorf("reading random challenge: %w", err)
	}
	now := s.now()
	s.mu.Lock()
	defer s.mu.Unlock()
	s.evictLocked(now)
	if len(s.byKey) >= s.max {
		return k, time.Time{}, s.oldestLocked(now, nil), errTooManyChallenges
	}
	cc := s.byClient[client]
	if cc != nil && cc.n >= s.perClient {
		return k, time.Time{}, s.oldestLocked(now, cc), errClientChallenges
	}
	if _, dup := s.byKey[k]; dup { // 2^-256: a broken random source
		return k, time.Time{}, 0, errors.New("random challenge collision")
	}
	if cc == nil {
		cc = &clientCount{key: client}
		s.byClient[client] = cc
	}
	cc.n++
	e := challengeEntry{key: k, expires: now.Add(s.ttl), client: cc}
	s.byKey[k] = s.order.PushBack(e)
	return k, e.expires, 0, nil
}

// oldestLocked returns how long until the oldest outstanding challenge (of
// cc, or of anyone with nil cc) expires, at least a second. A client's
// oldest is searched for from the front, at most 64 entries deep, beyond
// which the TTL bounds it.
func (s *challengeStore) oldestLocked(now time.Time, cc *clientCount) time.Duration {
	d := s.ttl
	i := 0
	for el := s.order.Front(); el != nil && i < 64; el, i = el.Next(), i+1 {
		if e := el.Value.(challengeEntry); cc == nil || e.client == cc {
			d = e.expires.Sub(now)
			break
		}
	}
	return max(d, time.Second)
}

// release drops one outstanding challenge of cc.
func (s *challengeStore) releaseLocked(cc *clientCount) {
	if cc.n--; cc.n <= 0 {
		delete(s.byClient, cc.key)
	}
}

// consume removes the challenge c and reports whether it was valid: exactly
// one of any number of concurrent calls with the same challenge succeeds.
func (s *challengeStore) consume(c []byte) error {
	if len(c) != ChallengeSize {
		return errUnknownChallenge
	}
	k := challengeKey(c)
	now := s.now()
	s.mu.Lock()
	defer s.mu.Unlock()
	el, ok := s.byKey[k]
	if !ok {
		return errUnknownChallenge
	}
	delete(s.byKey, k)
	s.order.Remove(el)
	s.releaseLocked(el.Value.(challengeEntry).client)
	if !now.Before(el.Value.(challengeEntry).expires) {
		return errExpiredChallenge
	}
	return nil
}

// evictLocked drops the expired challenges.
func (s *challengeStore) evictLocked(now time.Time) int {
	n := 0
	for el := s.order.Front(); el != nil; el = s.order.Front() {
		e := el.Value.(challengeEntry)
		if now.Before(e.expires) {
			break
		}
		s.order.Remove(el)
		delete(s.byKey, e.key)
		s.releaseLocked(e.client)
		n++
	}
	return n
}

// evict drops the expired challenges and returns how many it dropped.
func (s *challengeStore) evict() int {
	now := s.now()
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.evictLocked(now)
}

// clients returns the number of clients holding outstanding challenges
// (expired ones included until evicted).
func (s *challengeStore) clients() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.byClient)
}

// len returns the number of outstanding (unexpired) challenges.
func (s *challengeStore) len() int {
	now := s.now()
	s.mu.Lock()
	defer s.mu.Unlock()
	s.evictLocked(now)
	return len(s.byKey)
}
