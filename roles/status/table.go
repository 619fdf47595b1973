package status

import (
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"text/tabwriter"
)

// tableHeader names the columns of WriteTable.
var tableHeader = []string{"NAME", "RANK", "ADDR", "COORDINATOR", "OFFSET", "LAMPORT", "USERS", "CHANNELS", "MESSAGES", "STATE", "REPLICATION"}

// WriteTable prints the report as an aligned table, one row per server,
// followed by the error of each server that did not reply.
func WriteTable(w io.Writer, report Report) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	writeRow(tw, tableHeader)
	for _, row := range report.Servers {
		writeRow(tw, tableRow(row))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if len(report.Servers) == 0 {
		_, err := fmt.Fprintln(w, "no server is available at the reference")
		return err
	}
	for _, row := range report.Servers {
		if row.Error == "" {
			continue
		}
		if _, err := fmt.Fprintf(w, "%s: %s\n", row.Name, row.Error); err != nil {
			return err
		}
	}
	return nil
}

func writeRow(w io.Writer, cells []string) {
	for i, cell := range cells {
		if i > 0 {
			fmt.Fprint(w, "\t")
		}
		fmt.Fprint(w, cell)
	}
	fmt.Fprintln(w)
}

// tableRow renders one server. A server that did not reply shows only
// what the reference lists.
func tableRow(row Server) []string {
	cells := []string{row.Name, strconv.FormatInt(row.Rank, 10), row.Addr}
	st := row.Status
	if st == nil {
		for len(cells) < len(tableHeader) {
			cells = append(cells, "-")
		}
		cells[9] = "unreachable"
		return cells
	}

	coordinator := "none"
	if st.Coordinator != "" {
		coordinator = fmt.Sprintf("%s (epoch %d)", st.Coordinator, st.Epoch)
	}
	offset := "-"
	if row.OffsetMillis != nil {
		offset = formatOffset(*row.OffsetMillis)
	}
	return append(cells,
		coordinator,
		offset,
		strconv.FormatUint(st.Lamport, 10),
		strconv.Itoa(st.Users),
		strconv.Itoa(st.Channels),
		strconv.Itoa(st.Messages),
		state(st.Serving, st.Replica.CatchingUp),
		replication(row),
	)
}

// formatOffset renders milliseconds with a sign and one decimal, and an
// offset that rounds to zero as "0.0ms" rather than "-0.0ms".
func formatOffset(millis float64) string {
	rounded := math.Round(millis*10) / 10
	if rounded == 0 {
		return "0.0ms"
	}
	return fmt.Sprintf("%+.1fms", rounded)
}

func state(serving, catchingUp bool) string {
	switch {
	case catchingUp:
		return "catching up"
	case serving:
		return "serving"
	default:
		return "starting"
	}
}

// replication summarises the replica state: the server's own sequence,
// the ops it holds from every origin (its version vector summed), and
// how many of its peers acknowledge its writes in time.
func replication(row Server) string {
	rep := row.Status.Replica
	var opsHeld uint64
	for _, seq := range rep.Version {
		opsHeld += seq
	}
	inSync := 0
	for _, p := range rep.Peers {
		if p.InSync {
			inSync++
		}
	}
	summary := fmt.Sprintf("seq %d, %d ops held, %d/%d peers in sync", rep.Sequence, opsHeld, inSync, len(rep.Peers))
	if len(rep.Unsynced) > 0 {
		summary += ", catch-up incomplete from " + strings.Join(rep.Unsynced, " ")
	}
	return summary
}
