package journal

import (
	"context"
	"encoding/csv"
	"io"
	"sort"
	"strconv"
	"strings"
	"time"

	"tillpay/money"
)

// ZReport is the end-of-day report of one local calendar day: totals per
// state and currency, takings, and every payment and refund request made
// that day.
type ZReport struct {
	Terminal  string
	Day       string    // YYYY-MM-DD, local calendar
	From, To  time.Time // the day's bounds in the journal's Location
	Generated time.Time
	Totals    []Total        // one per (state, currency) seen, in States order then currency
	Net       []money.Amount // per currency: paid + settled − refunded (partially or fully)
	Open      int            // payments still without an outcome (queued, sending, …)
	Payments  []Payment      // creation order
	Refunds   []Refund       // refund requests created that day, oldest first
	Tampered  []string       // order numbers of records edited outside the journal
}

// Total is the count and sum of a day's payments in one state and currency.
type Total struct {
	State    State
	Currency string
	Count    int
	Amount   money.Amount // sum of the payments' amounts
	Refunded money.Amount // sum refunded of them
}

// ZReport builds the report of day's local calendar day (in the journal's
// Location). Payments count on the day they were created.
func (j *Journal) ZReport(ctx context.Context, day time.Time) (ZReport, error) {
	from, to := j.dayBounds(day)
	ps, seals, err := j.queryPayments(ctx, j.r, "WHERE created >= ? AND created < ? ORDER BY id", from.UnixNano(), to.UnixNano())
	if err != nil {
		return ZReport{}, err
	}
	refunds, err := j.queryRefunds(ctx, "WHERE created >= ? AND created < ? ORDER BY created, refund_no", from.UnixNano(), to.UnixNano())
	if err != nil {
		return ZReport{}, err
	}
	z := ZReport{
		Terminal: j.terminal, Day: from.Format(time.DateOnly), From: from, To: to,
		Generated: j.now(), Payments: ps, Refunds: refunds, Tampered: j.tampered(ps, seals),
	}
	type key struct {
		s State
		c string
	}
	totals := map[key]*Total{}
	net := map[string]int64{}
	for _, p := range ps {
		k := key{p.State, p.Amount.Currency}
		t := totals[k]
		if t == nil {
			t = &Total{State: p.State, Currency: p.Amount.Currency,
				Amount: money.Amount{Currency: p.Amount.Currency}, Refunded: money.Amount{Currency: p.Amount.Currency}}
			totals[k] = t
		}
		t.Count++
		t.Amount.Minor += p.Amount.Minor
		t.Refunded.Minor += p.Refunded.Minor
		switch p.State {
		case StatePaid, StateSettled, StatePartRefunded, StateRefunded:
			net[p.Amount.Currency] += p.Amount.Minor - p.Refunded.Minor
		}
		if !p.State.Final() {
			z.Open++
		}
	}
	rank := map[State]int{}
	for i, s := range States {
		rank[s] = i
	}
	for _, t := range totals {
		z.Totals = append(z.Totals, *t)
	}
	sort.Slice(z.Totals, func(a, b int) bool {
		x, y := z.Totals[a], z.Totals[b]
		if x.State != y.State {
			return rank[x.State] < rank[y.State]
		}
		return x.Currency < y.Currency
	})
	for c, m := range net {
		z.Net = append(z.Net, money.Amount{Minor: m, Currency: c})
	}
	sort.Slice(z.Net, func(a, b int) bool { return z.Net[a].Currency < z.Net[b].Currency })
	return z, nil
}

// WriteCSV writes the report as CSV. The first column names the kind of
// each row, and each kind has a header row of its own:
//
//	report,terminal,day,from,to,generated
//	total,state,currency,count,amount,refunded
//	net,currency,amount
//	payment,order,created,state,currency,amount,refunded,code,mode,scanner,reason,message,settled,attempts
//	refund,refund_no,order,created,state,currency,amount,reason
//	tampered,order
//
// Amounts are decimal text in the currency's units ("12.50"); times are RFC
// 3339 in the report's Location; codes are masked. Free text that a
// spreadsheet would run as a formula (starting with = + - @) is prefixed
// with an apostrophe.
func (z ZReport) WriteCSV(w io.Writer) error {
	cw := csv.NewWriter(w)
	t := func(x time.Time) string {
		if x.IsZero() {
			return ""
		}
		return x.In(z.From.Location()).Format(time.RFC3339)
	}
	rows := [][]string{
		{"report", "terminal", "day", "from", "to", "generated"},
		{"report", z.Terminal, z.Day, t(z.From), t(z.To), t(z.Generated)},
		{"total", "state", "currency", "count", "amount", "refunded"},
	}
	for _, x := range z.Totals {
		rows = append(rows, []string{"total", string(x.State), x.Currency, strconv.Itoa(x.Count), x.Amount.Decimal(), x.Refunded.Decimal()})
	}
	rows = append(rows, []string{"net", "currency", "amount"})
	for _, a := range z.Net {
		rows = append(rows, []string{"net", a.Currency, a.Decimal()})
	}
	rows = append(rows, []string{"payment", "order", "created", "state", "currency", "amount", "refunded", "code", "mode", "scanner", "reason", "message", "settled", "attempts"})
	for _, p := range z.Payments {
		code := p.Code
		if !p.CodeMasked() {
			code = maskCode(code)
		}
		rows = append(rows, []string{"payment", p.Order, t(p.Created), string(p.State), p.Amount.Currency,
			p.Amount.Decimal(), p.Refunded.Decimal(), code, string(p.Mode), cell(p.Device), cell(p.Reason), cell(p.Message),
			t(p.Settled), strconv.Itoa(p.Attempts)})
	}
	rows = append(rows, []string{"refund", "refund_no", "order", "created", "state", "currency", "amount", "reason"})
	for _, r := range z.Refunds {
		rows = append(rows, []string{"refund", r.No, r.Order, t(r.Created), string(r.State), r.Amount.Currency, r.Amount.Decimal(), cell(r.Reason)})
	}
	rows = append(rows, []string{"tampered", "order"})
	for _, o := range z.Tampered {
		rows = append(rows, []string{"tampered", o})
	}
	if err := cw.WriteAll(rows); err != nil {
		return err
	}
	cw.Flush()
	return cw.Error()
}

// cell defuses text that a spreadsheet would take for a formula.
func cell(s string) string {
	if s != "" && strings.ContainsRune("=+-@\t\r", rune(s[0])) {
		return "'" + s
	}
	return s
}
