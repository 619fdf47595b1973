package status

import (
	"cmp"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"text/tabwriter"

	"msgsys/lang"
	"msgsys/roles/server"
)

// WriteTable prints the report as an aligned table in language l, one row
// per server, followed by the error of each server that did not reply.
func WriteTable(w io.Writer, report Report, l string) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	header := make([]string, len(tableHeader))
	for i, heading := range tableHeader {
		header[i] = heading.In(l)
	}
	writeRow(tw, header)
	for _, row := range report.Servers {
		writeRow(tw, tableRow(row, l))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if len(report.Servers) == 0 {
		_, err := fmt.Fprintln(w, textNoServers.In(l))
		return err
	}
	for _, row := range report.Servers {
		if row.Error == "" {
			continue
		}
		problem := row.Error
		if row.problem != nil {
			problem = row.problem.in(l)
		}
		if _, err := fmt.Fprintf(w, "%s: %s\n", cmp.Or(row.Name, row.Addr), problem); err != nil {
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

// tableRow renders one server in language l. A server that did not reply
// shows only what the reference lists.
func tableRow(row Server, l string) []string {
	// A server given with --server that did not reply has no name, and
	// rank 0, which no server has.
	rank := "-"
	if row.Rank > 0 {
		rank = strconv.FormatInt(row.Rank, 10)
	}
	cells := []string{cmp.Or(row.Name, "-"), rank, row.Addr}
	st := row.Status
	if st == nil {
		for len(cells) < len(tableHeader) {
			cells = append(cells, "-")
		}
		cells[9] = textUnreachable.In(l)
		if row.Reachable {
			cells[9] = textNoStatus.In(l)
		}
		return cells
	}

	coordinator := textNoCoordinator.In(l)
	if st.Coordinator != "" {
		coordinator = fmt.Sprintf(textCoordinator.In(l), st.Coordinator, st.Epoch)
	}
	offset := "-"
	if row.OffsetMillis != nil {
		offset = formatOffset(*row.OffsetMillis, l)
	}
	return append(cells,
		coordinator,
		offset,
		strconv.FormatUint(st.Lamport, 10),
		strconv.Itoa(st.Users),
		strconv.Itoa(st.Channels),
		strconv.Itoa(st.Messages),
		state(st).In(l),
		replication(row, l),
	)
}

// formatOffset renders milliseconds with a sign and one decimal, and an
// offset that rounds to zero as "0.0ms" rather than "-0.0ms". Portuguese
// writes a decimal comma.
func formatOffset(millis float64, l string) string {
	rounded := math.Round(millis*10) / 10
	text := fmt.Sprintf("%+.1fms", rounded)
	if rounded == 0 {
		text = "0.0ms"
	}
	if l == lang.PT {
		text = strings.Replace(text, ".", ",", 1)
	}
	return text
}

// state returns the STATE cell of a server that replied with its status.
// A server older than StatusReply.Started shows "starting" without a
// broker connection, whether or not it has served before.
func state(st *server.StatusReply) lang.Text {
	switch {
	case st.Replica.CatchingUp:
		return textCatchingUp
	case st.Serving:
		return textServing
	case st.Started:
		// Started, then lost the broker: it serves peers and reconnects.
		return textNoBroker
	default:
		return textStarting
	}
}

// replication summarises the replica state in language l: the server's
// own sequence, the ops it holds from every origin (its version vector
// summed), and how many of its peers acknowledge its writes in time.
func replication(row Server, l string) string {
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
	summary := fmt.Sprintf(textReplication.In(l), rep.Sequence, opsHeld, inSync, len(rep.Peers))
	if len(rep.Unsynced) > 0 {
		summary += fmt.Sprintf(textUnsynced.In(l), strings.Join(rep.Unsynced, " "))
	}
	return summary
}
