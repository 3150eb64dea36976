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
	// outstanding challenges.
	errTooManyChallenges = errors.New("too many outstanding challenges")
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
}

// challengeStore holds outstanding challenges in memory: at most max of
// them, each usable once until it expires. Since every challenge lives for
// the same TTL, insertion order is expiry order: the list's front expires
// first, so evicting expired challenges costs O(evicted).
type challengeStore struct {
	ttl time.Duration
	max int
	now func() time.Time

	mu    sync.Mutex
	byKey map[challengeKey]*list.Element // of challengeEntry
	order *list.List                     // oldest first
}

func newChallengeStore(ttl time.Duration, max int, now func() time.Time) *challengeStore {
	return &challengeStore{ttl: ttl, max: max, now: now, byKey: make(map[challengeKey]*list.Element), order: list.New()}
}

// issue returns a fresh random challenge and its expiry.
func (s *challengeStore) issue() (challengeKey, time.Time, error) {
	var k challengeKey
	if _, err := rand.Read(k[:]); err != nil {
		return k, time.Time{}, fmt.Errorf("reading random challenge: %w", err)
	}
	now := s.now()
	s.mu.Lock()
	defer s.mu.Unlock()
	s.evictLocked(now)
	if len(s.byKey) >= s.max {
		return k, time.Time{}, errTooManyChallenges
	}
	if _, dup := s.byKey[k]; dup { // 2^-256: a broken random source
		return k, time.Time{}, errors.New("random challenge collision")
	}
	e := challengeEntry{key: k, expires: now.Add(s.ttl)}
	s.byKey[k] = s.order.PushBack(e)
	return k, e.expires, nil
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

// len returns the number of outstanding (unexpired) challenges.
func (s *challengeStore) len() int {
	now := s.now()
	s.mu.Lock()
	defer s.mu.Unlock()
	s.evictLocked(now)
	return len(s.byKey)
}
