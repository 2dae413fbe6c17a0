package config

import (
	"fmt"
	"strings"

	"github.com/agnivade/levenshtein"
)

// suggest returns the candidate the user most likely meant by s: the closest
// one at most two edits away, or a third of s's length for long names
// ("capability" for "capabilities"), case aside; else one that s is a prefix
// of or that is a prefix of s ("base" for "base_url"). Ties go to the earlier
// candidate, so callers pass candidates in a stable order. It returns "" when
// nothing is close: a wrong guess is worse than none.
func suggest(s string, candidates []string) string {
	ls := strings.ToLower(s)
	maxEdits := max(2, len(ls)/3)
	best, bestScore := "", maxEdits+1
	for _, c := range candidates {
		lc := strings.ToLower(c)
		score := levenshtein.ComputeDistance(ls, lc)
		switch {
		case score <= maxEdits && score < len(ls):
		case len(ls) >= 3 && len(lc) >= 3 && (strings.HasPrefix(lc, ls) || strings.HasPrefix(ls, lc)):
			score = maxEdits
		default:
			continue
		}
		if score < bestScore {
			best, bestScore = c, score
		}
	}
	return best
}

// didYouMean is the " (did you mean …?)" tail of a message, or "".
func didYouMean(s string, candidates []string) string {
	if m := suggest(s, candidates); m != "" {
		return fmt.Sprintf(" (did you mean %q?)", m)
	}
	return ""
}

// oneOf writes "a, b or c" for messages listing the allowed values.
func oneOf(vals []string) string {
	switch len(vals) {
	case 0:
		return ""
	case 1:
		return vals[0]
	}
	return strings.Join(vals[:len(vals)-1], ", ") + " or " + vals[len(vals)-1]
}
