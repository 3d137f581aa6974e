-- tcping: layer-4 ping — TCP SYN to a port; SYN-ACK means open, RST closed.
--
-- usage: echolot run tcping [HOST] [PORT] [COUNT] [INTERVAL]
--   HOST      the destination (default: the lab's server); IPv4 or IPv6
--   PORT      destination port (default 80)
--   COUNT     number of probes (default 4)
--   INTERVAL  seconds between probes (default 1)
--
-- Each probe leaves from a fresh source port, so every SYN opens a new
-- connection attempt (no reuse of a half-open one); after a SYN-ACK the
-- engine (and this host's kernel) answer with a RST so the server frees the
-- connection at once. Without CAP_NET_RAW the probes are TCP connects
-- (echolot run --mode dgram), with the kernel's ports.

local dst, v6 = target(arg[1])
local port = tonumber(arg[2] or 80)
local count = tonumber(arg[3] or 4)
local interval = tonumber(arg[4] or 1)
if not port or port < 1 or port > 65535 or port ~= math.floor(port) then
  usage("PORT " .. tostring(arg[2]) .. " is out of range, the limit is 1-65535")
end
if not count or count < 1 or count ~= math.floor(count) then
  usage("COUNT " .. tostring(arg[3]) .. " must be a whole number, at least 1")
end
if not interval or interval < 0 then
  usage("INTERVAL " .. tostring(arg[4]) .. " must be a number of seconds, at least 0")
end
printf("TCPING %s port %d: %d SYN probes\n", dst, port, count)
local rtts, open, closed, lost = {}, 0, 0, 0
for i = 1, count do
  local net = v6 and ip6{dst=dst} or ip{dst=dst}
  local a = sr1(net / tcp{dport=port, flags="S"}, {timeout=2})
  if not a then
    lost = lost + 1
    printf("seq=%d no answer\n", i)
  elseif a.kind == "tcp-open" or a.kind == "tcp-closed" then
    local state = a.kind == "tcp-open" and "open" or "closed"
    if state == "open" then open = open + 1 else closed = closed + 1 end
    rtts[#rtts + 1] = a.rtt
    printf("seq=%d from %s port %d: %s (%s) sport=%d ttl=%d time=%.3f ms\n", i, a.from, port, state,
      a.packet.tcp.flags, a.probe.tcp.sport, a.ttl, a.rtt)
  else
    lost = lost + 1
    printf("seq=%d %s from %s\n", i, a.kind, a.from or "?")
  end
  if i < count then sleep(interval) end
end
printf("\n--- %s port %d tcping statistics ---\n", dst, port)
printf("%d probes, %d open, %d closed, %d without answer\n", count, open, closed, lost)
if #rtts > 0 then
  local s = stats(rtts)
  printf("rtt min/avg/max/mdev = %.3f/%.3f/%.3f/%.3f ms\n", s.min, s.avg, s.max, s.mdev)
end
if open + closed == 0 then exit(1) end
