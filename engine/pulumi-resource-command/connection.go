// The `connection` input of command:remote:Command and dialing it, as upstream's
// provider/pkg/provider/remote/connection.go does: user (default root), port (default 22),
// dialErrorLimit retries (default 10, -1 unlimited) of perDialTimeout seconds each (default 15),
// and an optional `proxy`: a jump host with the same fields, itself dialed first.
package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"time"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"golang.org/x/crypto/ssh"
)

type connection struct {
	host, user                                                string
	password, privateKey, privateKeyPassword, agentSocketPath *string // nil: not given
	port, dialErrorLimit                                      int
	perDialTimeout                                            time.Duration
	proxy                                                     *connection
}

func parseConnection(v resource.PropertyValue) (*connection, error) {
	if !v.IsObject() {
		return nil, errors.New("connection must be an object")
	}
	m := v.ObjectValue()
	c := &connection{
		host:               str(m, "host"),
		user:               str(m, "user"),
		password:           optStr(m, "password"),
		privateKey:         optStr(m, "privateKey"),
		privateKeyPassword: optStr(m, "privateKeyPassword"),
		agentSocketPath:    optStr(m, "agentSocketPath"),
		port:               int(num(m, "port", 22)),
		dialErrorLimit:     int(num(m, "dialErrorLimit", 10)),
		perDialTimeout:     time.Duration(num(m, "perDialTimeout", 15)) * time.Second,
	}
	if c.host == "" {
		return nil, errors.New("connection.host is required")
	}
	if c.user == "" {
		c.user = "root"
	}
	if pv, ok := m["proxy"]; ok && pv.IsObject() {
		proxy, err := parseConnection(pv)
		if err != nil {
			return nil, fmt.Errorf("proxy: %w", err)
		}
		c.proxy = proxy
	}
	return c, nil
}

func (c *connection) addr() string { return net.JoinHostPort(c.host, fmt.Sprint(c.port)) }

// dial connects (through the proxy chain, if any), retrying up to dialErrorLimit times.
func (c *connection) dial(ctx context.Context) (*ssh.Client, func(), error) {
	var through *ssh.Client
	closers := []func(){}
	closeAll := func() {
		for i := len(closers) - 1; i >= 0; i-- {
			closers[i]()
		}
	}
	if c.proxy != nil {
		pc, pclose, err := c.proxy.dial(ctx)
		if err != nil {
			return nil, closeAll, fmt.Errorf("dialing proxy %s: %w", c.proxy.addr(), err)
		}
		through = pc
		closers = append(closers, pclose)
	}
	cfg, cleanup, err := c.config()
	closers = append(closers, cleanup)
	if err != nil {
		return nil, closeAll, err
	}
	var lastErr error
	for attempt := 1; c.dialErrorLimit < 0 || attempt <= max(c.dialErrorLimit, 1); attempt++ {
		var client *ssh.Client
		if through != nil {
			var conn net.Conn
			conn, lastErr = through.Dial("tcp", c.addr())
			if lastErr == nil {
				var sc ssh.Conn
				var chans <-chan ssh.NewChannel
				var reqs <-chan *ssh.Request
				sc, chans, reqs, lastErr = ssh.NewClientConn(conn, c.addr(), cfg)
				if lastErr == nil {
					client = ssh.NewClient(sc, chans, reqs)
				} else {
					_ = conn.Close()
				}
			}
		} else {
			client, lastErr = ssh.Dial("tcp", c.addr(), cfg)
		}
		if lastErr == nil {
			closers = append(closers, func() { _ = client.Close() })
			return client, closeAll, nil
		}
		select {
		case <-ctx.Done():
			return nil, closeAll, ctx.Err()
		case <-time.After(time.Duration(min(attempt, 5)) * time.Second):
		}
	}
	return nil, closeAll, fmt.Errorf("unable to connect to %s: %w", c.addr(), lastErr)
}
