package cost

import (
	"fmt"
	"io"
	"math"
	"strings"
	"unicode/utf8"
)

// Report is what an instance costs: the idle month, itemised, and what each
// thing users do adds.
type Report struct {
	// Instance and Region are the instance file's.
	Instance, Region string
	// Prices are the ones used.
	Prices Prices
	// Idle are the resources that cost money while nobody uses the
	// instance, component by component.
	Idle []Line
	// PerUse are the costs user actions add.
	PerUse []Use
	// Notes say what the figures assume or leave out.
	Notes []string
}

// Line is one idle resource.
type Line struct {
	// Component is the stack it belongs to: base, auth, data, ...
	Component string
	// What the resource is, for people.
	What string
	// Count is how many units are billed: resources for hourly and monthly
	// prices, GB for per-GB prices.
	Count float64
	// UnitPrice is the price of one unit per Unit.
	UnitPrice float64
	// Unit is "h" (an hourly price, run for HoursPerMonth), "month",
	// "GB-month" or "GB" (a monthly volume).
	Unit string
	// Approximate marks a line whose count is an estimate (Assumed).
	Approximate bool
}

// Monthly is the line's cost in a month.
func (l Line) Monthly() float64 {
	if l.Unit == "h" {
		return l.Count * l.UnitPrice * HoursPerMonth
	}
	return l.Count * l.UnitPrice
}

// Use is the cost of one user action.
type Use struct {
	// Component the action belongs to.
	Component string
	// What the action is.
	What string
	// Price is its cost per Unit.
	Price float64
	// Unit is what the price is per: "h", "GB-month", "GB", "user-month".
	Unit string
	// Note qualifies the price (sharing of nodes, spot, ...).
	Note string
}

// Total is the monthly cost of the instance while nobody uses it.
func (r Report) Total() float64 {
	total := 0.0
	for _, l := range r.Idle {
		total += l.Monthly()
	}
	return total
}

// ByComponent sums the idle lines of each component.
func (r Report) ByComponent() map[string]float64 {
	out := map[string]float64{}
	for _, l := range r.Idle {
		out[l.Component] += l.Monthly()
	}
	return out
}

// Dollars writes an amount as $1234.56, the form of the report's last line.
func Dollars(usd float64) string {
	return fmt.Sprintf("$%.2f", usd)
}

// unitPrice writes a price with enough digits for its size: $0.0225/h,
// $0.08/GB-month, $1.00/month.
func unitPrice(usd float64, unit string) string {
	s := fmt.Sprintf("%.2f", usd)
	if usd < 1 && math.Abs(usd*100-math.Round(usd*100)) > 1e-9 {
		s = strings.TrimRight(fmt.Sprintf("%.4f", usd), "0")
	}
	return "$" + s + "/" + unit
}

func count(n float64) string {
	if n == math.Trunc(n) {
		return fmt.Sprint(int64(n))
	}
	return strings.TrimRight(strings.TrimRight(fmt.Sprintf("%.2f", n), "0"), ".")
}

// Write prints the report as tables; its last line is exactly
// "idle: $<amount>/month".
func (r Report) Write(w io.Writer) error {
	var b strings.Builder
	region := r.Region
	if region == "" {
		region = "no region set"
	}
	fmt.Fprintf(&b, "instance %s (%s): on-demand list prices of %s taken %s, %d hours a month; re-check prices before relying on them\n",
		r.Instance, region, r.Prices.Region, PricesTaken, HoursPerMonth)

	fmt.Fprintln(&b, "\nidle: what the instance costs while nobody uses it")
	rows := [][]string{{"component", "resource", "count", "unit price", "monthly"}}
	for _, l := range r.Idle {
		what := l.What
		if l.Approximate {
			what += " (estimate)"
		}
		rows = append(rows, []string{l.Component, what, count(l.Count), unitPrice(l.UnitPrice, l.Unit), Dollars(l.Monthly())})
	}
	table(&b, rows, 2)
	b.WriteString("by component:")
	sums := r.ByComponent()
	seen := map[string]bool{}
	for _, l := range r.Idle {
		if !seen[l.Component] {
			seen[l.Component] = true
			fmt.Fprintf(&b, " %s %s", l.Component, Dollars(sums[l.Component]))
		}
	}
	b.WriteString("\n")

	if len(r.PerUse) > 0 {
		fmt.Fprintln(&b, "\nper use: what each thing users do adds")
		rows := [][]string{{"component", "action", "price", "note"}}
		for _, u := range r.PerUse {
			rows = append(rows, []string{u.Component, u.What, unitPrice(u.Price, u.Unit), u.Note})
		}
		table(&b, rows, 99)
	}
	if len(r.Notes) > 0 {
		fmt.Fprintln(&b, "\nnotes:")
		for _, n := range r.Notes {
			fmt.Fprintf(&b, "- %s\n", n)
		}
	}
	fmt.Fprintf(&b, "\nidle: %s/month\n", Dollars(r.Total()))
	_, err := io.WriteString(w, b.String())
	return err
}

// table writes rows in columns two spaces apart: text left-aligned, the
// columns from numeric on right-aligned (their figures line up).
func table(b *strings.Builder, rows [][]string, numeric int) {
	widths := make([]int, len(rows[0]))
	for _, row := range rows {
		for i, cell := range row {
			widths[i] = max(widths[i], utf8.RuneCountInString(cell))
		}
	}
	for _, row := range rows {
		var line strings.Builder
		for i, cell := range row {
			pad := strings.Repeat(" ", widths[i]-utf8.RuneCountInString(cell))
			if i > 0 {
				line.WriteString("  ")
			}
			if i >= numeric {
				line.WriteString(pad + cell)
			} else {
				line.WriteString(cell + pad)
			}
		}
		b.WriteString(strings.TrimRight(line.String(), " ") + "\n")
	}
}
