package backend

import (
	"fmt"
	"math"
	"testing"
)

// The associated data of sealed seeds must not change: seeds sealed by
// earlier versions must still open.
func TestSeedADMatchesStoredFormat(t *testing.T) {
	for _, k := range []int64{0, 1, 9, 10, 99, 123456, 999999, 1000000, 1234567, 9999999, 10000000, math.MaxUint32, -5} {
		if got, want := seedAD(k), fmt.Sprintf("seed:%07d", k); got != want {
			t.Errorf("seedAD(%d) = %q, want %q", k, got, want)
		}
	}
}
