package respond

import (
	"math"
	"time"

	"golang.org/x/time/rate"
)

// EvidenceTiers is how many doublings of a detector's threshold the
// forgeable share tells apart: evidence at 2^EvidenceTiers times the
// threshold (64×: a scan of 960 ports against a threshold of 15) may take
// the share's last token.
const EvidenceTiers = 6

// budget is the ban rate: a token bucket for every ban (max_bans_per_minute
// tokens, refilled at that rate) and one inside it for bans on forgeable
// evidence (forgeable_ban_share of it). Buckets, not a count reset each
// minute: a forged load that spent the share cannot wait for the minute to
// turn and spend it again at once, and a real scanner finds tokens coming
// back at a steady rate. They run on the responder's clock (packet time
// offline), so golang.org/x/time/rate's explicit-time calls fit.
//
// Verified evidence is never starved: forgeable bans take at most their
// share, so the rest of the bucket is verified evidence's.
//
// Inside the share, a ban's evidence decides how far it may drain the
// bucket: at the detector's threshold (strength 1) only down to half of
// the share, at twice the threshold down to a quarter, and so on; from
// 2^EvidenceTiers times the threshold, to the last token. Forged sources
// probing just past the threshold (the cheapest way to cost a ban) thus
// leave half the share to a real scanner whose evidence keeps growing: the
// responder marks a refused alert (Alert.MoreEvidence) and the detector
// alerts again at twice the evidence.
type budget struct {
	all, forged *rate.Limiter // nil forged: forgeable evidence never bans
	forgedCap   float64
}

func newBudget(perMin int, share float64) budget {
	b := budget{all: rate.NewLimiter(rate.Limit(float64(perMin)/60), perMin)}
	if n := forgedPerMin(perMin, share); n > 0 {
		b.forged = rate.NewLimiter(rate.Limit(float64(n)/60), n)
		b.forgedCap = float64(n)
	}
	return b
}

// forgedPerMin is how many bans a minute forgeable evidence may make.
func forgedPerMin(perMin int, share float64) int {
	if share <= 0 || perMin <= 0 {
		return 0
	}
	return max(1, int(share*float64(perMin)))
}

// reserve is how many tokens of the forgeable share a ban on evidence of
// the given strength must leave: half the share at strength 1, halved at
// each doubling (rounded down: a share of one token keeps none), none from
// 2^EvidenceTiers.
func (b *budget) reserve(strength float64) float64 {
	tier := 0
	if strength > 1 {
		tier = int(math.Floor(math.Log2(strength)))
	}
	if tier >= EvidenceTiers {
		return 0
	}
	return math.Floor(b.forgedCap / float64(int(2)<<tier))
}

// verdict is what the budget says to one ban.
type verdict int

const (
	budgetOK        verdict = iota
	budgetRate              // max_bans_per_minute spent
	budgetForgeable         // the forgeable share spent
	budgetReserve           // the forgeable share holds only tokens kept for stronger evidence
)

// take books a ban at now if the budget allows it.
func (b *budget) take(now int64, forged bool, strength float64) verdict {
	t := time.Unix(0, now)
	if b.all.TokensAt(t) < 1 {
		return budgetRate
	}
	if forged {
		if b.forged == nil {
			return budgetForgeable
		}
		left := b.forged.TokensAt(t)
		if left < 1 {
			return budgetForgeable
		}
		if left-1 < b.reserve(strength) {
			return budgetReserve
		}
		b.forged.AllowN(t, 1)
	}
	b.all.AllowN(t, 1)
	return budgetOK
}

// forgedLeft is the forgeable share's tokens at now (for log lines).
func (b *budget) forgedLeft(now int64) float64 {
	if b.forged == nil {
		return 0
	}
	return b.forged.TokensAt(time.Unix(0, now))
}
