// Loaded into the Agents Playground's node process by tests/it/playground.rs (node --require):
// every outgoing TCP connection to anything but loopback is refused and reported on stderr as
// "octopus-test: blocked …", which the test fails on. The playground is documented to work
// offline; this makes sure it does.
"use strict";
const net = require("node:net");

const loopback = (host) =>
  host === undefined || host === "localhost" || host === "::1" || /^127\./.test(host) ||
  /^::ffff:127\./.test(host);

const connect = net.Socket.prototype.connect;
net.Socket.prototype.connect = function (...args) {
  const opts = typeof args[0] === "object" && args[0] !== null ? args[0] : { port: args[0], host: args[1] };
  const host = Array.isArray(opts) ? undefined : opts.host;
  if (!opts.path && !loopback(host)) {
    process.stderr.write(`octopus-test: blocked a connection to ${host}:${opts.port}\n`);
    process.nextTick(() => this.destroy(new Error(`blocked by loopback-only.cjs: ${host}`)));
    return this;
  }
  return connect.apply(this, args);
};
