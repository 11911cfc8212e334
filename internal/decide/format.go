package decide

import (
	"fmt"
	"math"
	"strconv"

	"github.com/gitmig/gitmig/internal/text"
)

// resource is cpu or memory.
type resource int

const (
	cpu resource = iota
	memory
	// resourceCount lets `for r := range resourceCount` visit every resource.
	resourceCount
)

func (r resource) String() string {
	if r == cpu {
		return "cpu"
	}
	return "memory"
}

// amount is a quantity of both resources: cores and bytes.
type amount [2]float64

func (a amount) plus(b amount) amount  { return amount{a[cpu] + b[cpu], a[memory] + b[memory]} }
func (a amount) minus(b amount) amount { return amount{a[cpu] - b[cpu], a[memory] - b[memory]} }

// quantity formats cores or bytes as a person compares them with Kubernetes requests.
func quantity(r resource, v float64) string {
	if r == cpu {
		return text.Cores(v)
	}
	return text.Bytes(v)
}

// ratio formats a utilisation fraction.
func ratio(v float64) string { return text.Ratio(v) }

// fraction formats used/capacity = utilisation.
func fraction(r resource, used, capacity float64) string {
	return fmt.Sprintf("%s/%s = %s", quantity(r, used), quantity(r, capacity), ratio(used/capacity))
}

// round keeps digits decimals, so that output is stable and readable; decisions are
// taken on unrounded numbers except scores, see score.
func round(v float64, digits int) float64 {
	p := math.Pow(10, float64(digits))
	return math.Round(v*p) / p
}

func ms(v float64) string { return strconv.FormatFloat(v, 'f', -1, 64) + "ms" }
