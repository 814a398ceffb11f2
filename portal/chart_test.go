package portal

import (
	"strings"
	"testing"
)

// Bars are their share of the largest, within the plot; credits draw none;
// long lists keep their first (largest) points; long labels are cut.
func TestNewChart(t *testing.T) {
	c := newChart("t", []costPoint{{"a", 10}, {"b", 5}, {"a-very-long-user-name", 2.5}, {"credit", -3}, {"cut", 1}}, 4)
	if len(c.Bars) != 4 {
		t.Fatalf("%d bars, want the limit of 4", len(c.Bars))
	}
	for i, want := range []float64{chartPlot, chartPlot / 2, chartPlot / 4, 0} {
		b := c.Bars[i]
		if b.H != want || b.Y+b.H != c.Axis {
			t.Errorf("bar %d (%s): height %g from %g, want %g standing on the axis %g", i, b.Label, b.H, b.Y, want, c.Axis)
		}
		if b.X < float64(i)*chartWidth/4 || b.X+b.W > float64(i+1)*chartWidth/4 {
			t.Errorf("bar %d spans %g-%g, outside its quarter of the width", i, b.X, b.X+b.W)
		}
	}
	if s := c.Bars[2].Short; len([]rune(s)) != chartLabelRunes || !strings.HasSuffix(s, "…") {
		t.Errorf("long label shortened to %q", s)
	}
	if e := newChart("t", nil, 12); len(e.Bars) != 0 {
		t.Errorf("an empty series drew %d bars", len(e.Bars))
	}
	if z := newChart("t", []costPoint{{"a", 0}}, 12); z.Bars[0].H != 0 {
		t.Errorf("a zero series drew a bar %g high", z.Bars[0].H)
	}
}
