-- trace: traceroute with ICMP, UDP or TCP probes, and which hop rewrote what in your packets.
--
-- usage: echolot run trace [HOST] [icmp|udp|tcp] [PORT] [MAXHOPS]
--   HOST     the destination (default: the lab's server); IPv4 or IPv6
--   PROTO    icmp (echo requests, the default), udp (to ports 33434 and
--            up, as traceroute does) or tcp (SYNs to PORT, as tcptraceroute)
--   PORT     the TCP destination port (default 80); for udp the first port
--   MAXHOPS  give up after this many hops (default 30)
--
-- Three probes per TTL. Every router that drops a probe for its TTL
-- sends back time-exceeded with the start of the probe quoted in it, as
-- the packet looked when it arrived there. Comparing the quote with what
-- was sent (answer.changes) shows what the path changed up to that hop:
-- TOS/DSCP/ECN re-marking, DF cleared, options stripped, addresses or
-- ports rewritten (NAT). The first hop whose quote shows a change names
-- the link or router that made it. The TTL decrement and the checksum it
-- forces are expected and left out; but a router quotes the probe as it
-- arrived, with TTL 1, so a quoted TTL of 0 means the TTL was lowered
-- once more on the way (a device that decrements without answering, so
-- the next router shows up at two TTLs in a row), and one above 1 that
-- the hop answered before the TTL ran out.
-- MPLS label stacks (RFC 4950) are shown when a router includes them.
-- Exit status: 0 when the destination answered, 1 when it was not
-- reached, 2 on bad arguments.

local dst, v6 = target(arg[1])
local proto = arg[2] or "icmp"
if proto == "" then proto = "icmp" end
if proto ~= "icmp" and proto ~= "udp" and proto ~= "tcp" then
  usage("PROTO " .. proto .. " is not one of icmp, udp, tcp")
end
local port = tonumber(arg[3] or (proto == "udp" and 33434 or 80))
if not port or port ~= math.floor(port) or port < 1 or port > 65535 then
  usage("PORT " .. tostring(arg[3]) .. " is out of range, the limit is 1-65535")
end
local maxhops = tonumber(arg[4] or 30)
if not maxhops or maxhops ~= math.floor(maxhops) or maxhops < 1 or maxhops > 255 then
  usage("MAXHOPS " .. tostring(arg[4]) .. " is out of range, the limit is 1-255")
end

local next_port = port
local function probe(ttl)
  local l3 = v6 and ip6{dst=dst, hlim=ttl} or ip{dst=dst, ttl=ttl}
  if proto == "icmp" then
    return l3 / (v6 and icmp6{} or icmp{}) / raw(pattern.ramp(32))
  elseif proto == "udp" then
    next_port = next_port + 1
    return l3 / udp{dport=next_port - 1} / raw(pattern.ramp(32))
  end
  return l3 / tcp{dport=port, flags="S"}
end

local final = {["echo-reply"]=true, ["port-unreachable"]=true, ["tcp-open"]=true, ["tcp-closed"]=true}
local boring = {ttl=true, hlim=true, chksum=true}

printf("TRACE %s with %s probes%s, at most %d hops\n", whois(dst),
  string.upper(proto), proto == "tcp" and (" to port " .. port) or "", maxhops)
print()

local rows, hops, reached = {}, {}, false
local first_change = {}   -- field -> {ttl=, text=}
local order = {}
for ttl = 1, maxhops do
  local answered = sr({probe(ttl), probe(ttl), probe(ttl)}, {timeout=1})
  table.sort(answered, function(x, y) return (x.seq or 0) < (y.seq or 0) end)
  local addrs, seen, rtts, kinds, changes, mpls = {}, {}, {}, {}, {}, nil
  for _, a in ipairs(answered) do
    if a.from and not seen[a.from] then
      seen[a.from] = true
      addrs[#addrs + 1] = whois(a.from)
    end
    rtts[#rtts + 1] = string.format("%.3f ms", a.rtt)
    kinds[a.kind] = true
    if a.changes then
      for f, c in pairs(a.changes) do
        if not c.expected and not boring[f] then
          local text = tostring(c)
          if not changes[f] then changes[f] = text end
          if not first_change[f] then
            first_change[f] = {ttl=ttl, text=text, note=c.note}
            order[#order + 1] = f
          end
        end
      end
    end
    -- The TTL the hop saw: 1, unless something else lowered it (or
    -- the hop answered early).
    local q = a.kind == "time-exceeded" and a.quote and a.quote.ip.ttl
    if q and q ~= 1 then
      local text = string.format("%s quoted %d, expected 1", v6 and "hlim" or "ttl", q)
      local note = q < 1 and "lowered once more than the hops before it account for"
        or "the hop answered before the TTL ran out"
      if not changes.ttl then changes.ttl = text end
      if not first_change.ttl then
        first_change.ttl = {ttl=ttl, text=text, note=note, verb=q < 1 and "lowered" or "changed"}
        order[#order + 1] = "ttl"
      end
    end
    if a.packet and a.packet.mpls then mpls = a.packet.mpls end
    if final[a.kind] and a.from == dst then reached = true end
  end
  for _ = #rtts + 1, 3 do rtts[#rtts + 1] = "*" end
  local kind_list = {}
  for k in pairs(kinds) do kind_list[#kind_list + 1] = k end
  table.sort(kind_list)
  local ch = {}
  for f, text in pairs(changes) do ch[#ch + 1] = text end
  table.sort(ch)
  if mpls then
    for _, m in ipairs(mpls) do
      ch[#ch + 1] = string.format("MPLS label=%d tc=%d s=%s ttl=%d", m.label, m.tc, tostring(m.s), m.ttl)
    end
  end
  hops[ttl] = #addrs > 0 and addrs[1] or nil
  rows[#rows + 1] = {ttl, #addrs > 0 and table.concat(addrs, ", ") or "*", rtts[1], rtts[2], rtts[3],
    table.concat(kind_list, ","), #ch > 0 and table.concat(ch, "; ") or (#answered > 0 and "-" or "")}
  if reached then break end
end
printtable({"HOP", "ADDRESS", "RTT 1", "RTT 2", "RTT 3", "ANSWER", "CHANGED ON THE WAY (quote vs sent)"}, rows)

-- DSCP and ECN are parts of the TOS octet: name them only when TOS is not named already.
local shown = {}
for _, f in ipairs(order) do
  if not ((f == "dscp" or f == "ecn") and (first_change.tos or first_change.tc)) then shown[#shown + 1] = f end
end
print()
if #shown == 0 then
  print("No hop's quote shows a change beyond the TTL decrement: nothing on the path rewrote the probes.")
else
  print("What the path changed, and where it first shows:")
  for _, f in ipairs(shown) do
    local c = first_change[f]
    local before = c.ttl > 1 and hops[c.ttl - 1]
    printf("  %s: first seen in the quote from hop %d, %s%s;\n", c.text, c.ttl, hops[c.ttl] or "?",
      c.note and (" (" .. c.note .. ")") or "")
    if before then
      printf("    so it happened after hop %d, %s, forwarded the probe: on the link to hop %d or in it.\n",
        c.ttl - 1, before, c.ttl)
    else
      print("    so it happened before the first hop: on this host's link or in hop 1.")
    end
  end
end

-- One router answering two TTLs in a row: the TTL dropped by two on
-- the way to it, once without a hop to show for it.
local twice = {}
for i = 2, #rows do
  if hops[i] and hops[i] == hops[i - 1] then
    twice[#twice + 1] = i
    printf("  hops %d and %d are the same router, %s: something before it lowers the TTL without answering.\n",
      i - 1, i, hops[i])
  end
end

print()
local path = {}
for i = 1, #rows do path[#path + 1] = hops[i] or "*" end
if reached then
  printf("RESULT: %s reached in %d hops: %s.\n", dst, #rows, table.concat(path, " -> "))
else
  printf("RESULT: %s not reached within %d hops: %s.\n", dst, #rows, table.concat(path, " -> "))
end
for _, f in ipairs(shown) do
  local c = first_change[f]
  printf("RESULT: %s %s between hop %d, %s, and hop %d, %s.\n", f, c.verb or "rewritten", c.ttl - 1,
    c.ttl > 1 and hops[c.ttl - 1] or "this host", c.ttl, hops[c.ttl] or "?")
end
exit(reached and 0 or 1)
