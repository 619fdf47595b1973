// Package clock holds the two clocks of a msgsys process. The Lamport clock
// orders events: every message carries its value, and the cluster's total
// order of writes is built from it. The physical clock is only for display
// (message timestamps) and for Berkeley synchronisation under the coordinator,
// and never decides the order of anything. Round holds the arithmetic of one
// Berkeley round, with no network code.
package clock
