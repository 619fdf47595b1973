package up

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"msgsys/lang"
	"msgsys/proto"
)

// Pauses between readiness checks, before and after ReadyTimeout.
const (
	readyRetry     = 200 * time.Millisecond
	readyRetryLate = time.Second
	// readyRequestTimeout bounds one readiness request.
	readyRequestTimeout = 2 * time.Second
)

// waitReady lists users through the broker until a server replies, and
// reports whether one did before ctx was cancelled. After ReadyTimeout it
// logs an error and keeps trying, because the person may be watching the
// logs to find out why.
func (u *Up) waitReady(ctx context.Context) bool {
	start := time.Now()
	deadline := start.Add(u.cfg.ReadyTimeout)
	requester := proto.NewRequester(u.endpoint(offsetFrontend))
	defer requester.Close()
	late := false
	for {
		err := listUsers(ctx, requester, u.cfg.Clocks)
		if err == nil {
			u.log.Info("broker reached a server", "elapsed", time.Since(start).Round(time.Millisecond))
			return true
		}
		u.log.Debug("cluster not ready yet", "err", err)
		if !late && time.Now().After(deadline) {
			late = true
			u.log.Error("cluster not ready, still retrying; see the children's logs above", "after", u.cfg.ReadyTimeout, "err", err)
		}
		pause := readyRetry
		if late {
			pause = readyRetryLate
		}
		select {
		case <-ctx.Done():
			return false
		case <-time.After(pause):
		}
	}
}

// waitServersServing waits until each server child reports serving in its
// own status reply, or has exited for good, and returns how many serve.
// waitReady alone is not enough, because one server replying through the
// broker shows nothing of the others, which may still fail their start,
// such as on a data directory that another process has locked. It returns
// false when ctx is cancelled first.
func (u *Up) waitServersServing(ctx context.Context, servers []*child) (int, bool) {
	key := u.clusterKey()
	pending := slices.Clone(servers)
	serving := 0
	deadline := time.Now().Add(u.cfg.ReadyTimeout)
	late := false
	for {
		var waiting []*child
		for _, c := range pending {
			select {
			case <-c.done:
				u.log.Error("server exited before serving, left out of the count", "name", c.spec.name)
				continue
			default:
			}
			ok, err := serverServing(ctx, c.flag("--addr"), key, u.cfg.Clocks)
			if ok {
				serving++
				continue
			}
			u.log.Debug("server not serving yet", "name", c.spec.name, "err", err)
			waiting = append(waiting, c)
		}
		pending = waiting
		if len(pending) == 0 {
			u.log.Info("cluster ready", "servers", serving)
			return serving, true
		}
		// A server catching up on a large history, or waiting for a
		// peer, can take long, so log the servers that delay the banner.
		if !late && time.Now().After(deadline) {
			late = true
			names := make([]string, len(pending))
			for i, c := range pending {
				names[i] = c.spec.name
			}
			u.log.Error("servers not serving yet, still waiting; see their logs above", "after", u.cfg.ReadyTimeout, "servers", names)
		}
		select {
		case <-ctx.Done():
			return serving, false
		case <-time.After(readyRetry):
		}
	}
}

// serverServing sends one status request to a server's endpoint and
// reports whether the server replied that it serves clients.
func serverServing(ctx context.Context, addr, key string, clocks proto.Clocks) (bool, error) {
	frame, err := proto.Encode(serviceStatus, &proto.EmptyRequest{}, clocks.Meta())
	if err != nil {
		return false, err
	}
	requester := proto.NewKeyedRequester(addr, key)
	defer requester.Close()
	requester.SetDialTimeout(readyRequestTimeout)
	payload, err := requester.Request(ctx, frame, readyRequestTimeout)
	if err != nil {
		return false, err
	}
	env, err := proto.Decode(payload)
	if err != nil {
		return false, err
	}
	if _, err := clocks.Witness(env.Data); err != nil {
		return false, err
	}
	serving, _ := env.Data["serving"].(bool)
	return serving, nil
}

// serviceStatus is the service of a server's status request on its
// server-to-server endpoint.
const serviceStatus = "status"

// listUsers sends one users request and returns nil when a server
// replies to it. Servers connect to the broker only once they have caught up,
// so a reply means the cluster serves. A read leaves no trace in the
// data, unlike a login.
func listUsers(ctx context.Context, requester *proto.Requester, clocks proto.Clocks) error {
	frame, err := proto.Encode(proto.ServiceUsers, &proto.EmptyRequest{}, clocks.Meta())
	if err != nil {
		return err
	}
	payload, err := requester.Request(ctx, frame, readyRequestTimeout)
	if err != nil {
		return err
	}
	env, err := proto.Decode(payload)
	if err != nil {
		return err
	}
	if _, err := clocks.Witness(env.Data); err != nil {
		return err
	}
	if status, _, _ := env.Data.OptString("status"); status == proto.StatusError {
		description, _, _ := env.Data.OptString("description")
		return fmt.Errorf("users rejected: %s", description)
	}
	return nil
}

// Text of the instructions printed once the cluster replies.
var (
	textReady = lang.Text{
		PT: "msgsys no ar: %s e %s, dados em %s.",
		EN: "msgsys is up: %s and %s, data in %s.",
	}
	textServer  = lang.Text{PT: "servidor", EN: "server"}
	textServers = lang.Text{PT: "servidores", EN: "servers"}
	textBot     = lang.Text{PT: "bot", EN: "bot"}
	textBots    = lang.Text{PT: "bots", EN: "bots"}
	textConnect = lang.Text{
		PT: "Para conectar um cliente, em outro terminal (go run na pasta do código-fonte):",
		EN: "To connect a client, in another terminal (go run in the source directory):",
	}
	textStatus = lang.Text{
		PT: "Para ver o estado do cluster:",
		EN: "To see the state of the cluster:",
	}
	// textClusterKey follows the status commands when the cluster has a
	// key, because status must present it to the reference. The text
	// never contains the key itself.
	textClusterKey = lang.Text{
		PT: "O cluster exige uma chave, então defina MSGSYS_CLUSTER_KEY com a mesma chave nesse terminal antes de rodar o status (ou passe --cluster-key).",
		EN: "The cluster requires a key, so set MSGSYS_CLUSTER_KEY to the same key in that terminal before running status (or pass --cluster-key).",
	}
	textProcesses = lang.Text{
		PT: "Processos (para testar falhas, mate um com kill -9 PID):",
		EN: "Processes (to test failures, kill one with kill -9 PID):",
	}
	textStop = lang.Text{
		PT: "Ctrl-C encerra todos.",
		EN: "Ctrl-C stops them all.",
	}
)

// printReady prints, untagged, how to connect a client and see the
// cluster, and the children's process ids. servers is how many servers
// serve.
func (u *Up) printReady(children []*child, servers int) {
	pids := make([]string, 0, len(children))
	for _, c := range children {
		if pid := c.pid(); pid > 0 {
			pids = append(pids, c.spec.name+"="+strconv.Itoa(pid))
		}
	}
	u.out.writeText(u.instructions(pids, servers))
}

// instructions renders the text of printReady. The commands name the
// endpoints only when they differ from the client's and status's
// defaults.
func (u *Up) instructions(pids []string, servers int) string {
	broker, sub, ref := u.endpoint(offsetFrontend), u.endpoint(offsetXPub), u.endpoint(offsetReference)
	clientFlags := " --broker " + broker + " --sub " + sub
	runFlags, statusFlags := clientFlags, " --reference "+ref
	if u.cfg.PortBase == DefaultPortBase {
		runFlags, statusFlags = "", ""
	}
	// The commands run in the reader's shell, which has this process's
	// environment but not its --lang.
	if u.lang != lang.Pick(os.Getenv("MSGSYS_LANG")) {
		langFlag := " --lang " + u.lang
		clientFlags += langFlag
		runFlags += langFlag
		statusFlags += langFlag
	}

	var b strings.Builder
	b.WriteString("\n")
	fmt.Fprintf(&b, textReady.In(u.lang)+"\n",
		count(servers, textServer, textServers, u.lang), count(u.cfg.Bots, textBot, textBots, u.lang), displayPath(u.cfg.Data))
	b.WriteString(textConnect.In(u.lang) + "\n")
	b.WriteString(indent("go run . client"+runFlags, "msgsys client"+clientFlags))
	b.WriteString(textStatus.In(u.lang) + "\n")
	b.WriteString(indent("go run . status"+statusFlags, "msgsys status"+statusFlags))
	if u.clusterKey() != "" {
		b.WriteString(textClusterKey.In(u.lang) + "\n")
	}
	if len(pids) > 0 {
		b.WriteString(textProcesses.In(u.lang) + "\n")
		b.WriteString(indent(strings.Join(pids, " ")))
	}
	b.WriteString(textStop.In(u.lang) + "\n\n")
	return b.String()
}

// clusterKey returns the MSGSYS_CLUSTER_KEY that the children get, the
// last one of their environment, or "".
func (u *Up) clusterKey() string {
	key := ""
	for _, entry := range u.childEnv() {
		if value, ok := strings.CutPrefix(entry, "MSGSYS_CLUSTER_KEY="); ok {
			key = value
		}
	}
	return key
}

// displayPath prefixes a relative directory with "./" so that it reads as
// a path: in Portuguese, "dados em data" reads as "data in date".
func displayPath(dir string) string {
	if filepath.IsAbs(dir) || dir == "." || dir == ".." || strings.HasPrefix(dir, "./") || strings.HasPrefix(dir, "../") {
		return dir
	}
	return "./" + dir
}

// count renders n with the singular or plural noun.
func count(n int, singular, plural lang.Text, l string) string {
	if n == 1 {
		return "1 " + singular.In(l)
	}
	return strconv.Itoa(n) + " " + plural.In(l)
}
