package portal

// A chart is a cost series drawn as SVG bars on the costs page, so that a
// trend shows at a glance where a table of figures hides it. It is drawn on
// the server: no script, nothing the page's Content-Security-Policy must
// let in. Sizes are in the SVG's own units (its viewBox); the page scales
// the drawing to its width.
type chart struct {
	Title         string
	Width, Height float64
	// Axis is the baseline's height: bars stand on it; labels hang below,
	// on LabelY.
	Axis, LabelY float64
	Bars         []chartBar
}

// chartBar is one point: its bar and the short label under it.
type chartBar struct {
	Label, Short string
	USD          float64
	X, Y, W, H   float64
	LabelX       float64
}

const (
	chartWidth  = 600
	chartPlot   = 140 // the tallest bar
	chartLabels = 20  // room under the axis for labels
	// chartLabelRunes is as much of a label as fits under a bar of the
	// narrowest chart (twelve bars) at the labels' size.
	chartLabelRunes = 10
)

// newChart draws at most limit points of pts (lists sorted largest first
// keep their largest), each bar's height its share of the largest. Credits
// (negative costs) draw no bar.
func newChart(title string, pts []costPoint, limit int) chart {
	pts = pts[:min(len(pts), limit)]
	c := chart{Title: title, Width: chartWidth, Height: chartPlot + chartLabels, Axis: chartPlot, LabelY: chartPlot + 15}
	top := 0.0
	for _, p := range pts {
		top = max(top, p.USD)
	}
	slot := chartWidth / float64(max(1, len(pts)))
	for i, p := range pts {
		h := 0.0
		if top > 0 && p.USD > 0 {
			h = p.USD / top * chartPlot
		}
		short := []rune(p.Label)
		if len(short) > chartLabelRunes {
			short = append(short[:chartLabelRunes-1], '…')
		}
		left := float64(i) * slot
		c.Bars = append(c.Bars, chartBar{
			Label: p.Label, Short: string(short), USD: p.USD,
			X: left + slot*0.15, Y: chartPlot - h, W: slot * 0.7, H: h,
			LabelX: left + slot/2,
		})
	}
	return c
}
