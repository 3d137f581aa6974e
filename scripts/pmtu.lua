-- pmtu: path MTU by DF probes — the size, the hop that limits it, black holes, the kernel's cache.
--
-- usage: echolot run pmtu [HOST] [MAX]
--   HOST  the destination (default: the lab's server); IPv4 or IPv6
--   MAX   the largest datagram to try, in bytes (default 1500)
--
-- Sends ICMP echo requests with Don't Fragment set (IPv6 never fragments
-- on the way) and sizes counted as whole IP datagrams, as tracepath and
-- the MTU do. A router that cannot forward one answers frag-needed
-- (IPv6: packet-too-big) with the MTU of its next link: the script jumps
-- to that size. When a size gets no answer at all, it binary-searches
-- between the largest size that came back and the smallest that did not:
-- a path that drops big packets without saying why is a PMTU black hole,
-- the classic reason TCP connections hang after the handshake.
-- Then it finds the hop: probes of the failing size with TTL 1, 2, 3 …
-- pass the routers before the limit (time-exceeded) and stop at it.
-- The probes use IP_PMTUDISC_PROBE, so the kernel's own cached path MTU
-- does not stop them; that cache is read separately, before and after,
-- by asking the kernel to send a too-big datagram with
-- IP_PMTUDISC_DO (pmtu="do"): it refuses with EMSGSIZE and names the
-- MTU it holds for the route (the cached path MTU, else the interface's).
-- Exit status: 0 when the path MTU was found, 1 when the destination does
-- not answer, 2 on bad arguments.

local dst, v6 = target(arg[1])
local max = tonumber(arg[2] or 1500)
local hdr = v6 and 48 or 28          -- IP header + ICMP header
local floor_size = v6 and 1280 or 68 -- the least every link must carry
if not max or max ~= math.floor(max) or max < floor_size or max > 65000 then
  usage(string.format("MAX %s is out of range, the limit is %d-65000 bytes", tostring(arg[2]), floor_size))
end

local function addr(a) return a and whois(a) or "-" end

-- a DF echo request of size bytes in all
local function probe(size, ttl)
  local data = pattern.ramp(size - hdr)
  if v6 then return ip6{dst=dst, hlim=ttl or 64} / icmp6{} / raw(data) end
  return ip{dst=dst, df=true, ttl=ttl or 64} / icmp{} / raw(data)
end

local too_big = {["frag-needed"]=true, ["packet-too-big"]=true}

-- The kernel's MTU for the route to dst: send a datagram far larger than
-- any link with pmtu="do" and TTL 1; the kernel refuses it (EMSGSIZE) and
-- says which MTU it holds. nil when it sent the datagram after all.
local function kernel_mtu()
  local a = sr1(probe(65000, 1), {timeout=0.5, pmtu="do"})
  if a and a["local"] and a.mtu then return a.mtu end
  return nil
end

printf("PMTU %s: DF probes up to %d bytes (sizes are whole IP datagrams)\n", whois(dst), max)
local before = kernel_mtu()

-- Can a small datagram get there at all?
local start = 84
local a = sr1(probe(start), {timeout=1, retries=2})
if not a or too_big[a.kind] or a.from ~= dst then
  printf("a %d-byte probe got %s: %s does not answer echo requests, nothing to measure.\n", start,
    a and (a.kind .. " from " .. addr(a.from)) or "no answer", dst)
  exit(1)
end

-- The search: jump to reported MTUs, bisect through silence.
local lo, hi = start, max       -- lo passed; everything above hi failed
local s = max
local rows, limiter, reported, silent, local_limit = {}, nil, nil, false, false
for _ = 1, 40 do
  local a = sr1(probe(s), {timeout=0.7, retries=1})
  local result, from, mtu = "no answer", "", ""
  if a then result, from, mtu = a.kind, addr(a.from), a.mtu or "" end
  if a and a["local"] then from = "this host (" .. (a.from or "?") .. ")" end
  rows[#rows + 1] = {s, result, from, mtu}
  if a and a.from == dst and not too_big[a.kind] then
    lo = s
  elseif a and too_big[a.kind] then
    hi = s - 1
    if a.mtu and a.mtu >= lo and a.mtu < s then hi = a.mtu end
    limiter, reported, local_limit = a.from, a.mtu, a["local"]
  elseif not a then
    silent = true
    hi = s - 1
  else
    printf("a %d-byte probe got %s from %s; stopping.\n", s, a.kind, addr(a.from))
    break
  end
  if lo >= hi then break end
  if a and too_big[a.kind] and hi > lo then s = hi else s = math.floor((lo + hi + 1) / 2) end
end
print()
printtable({"SIZE", "ANSWER", "FROM", "MTU"}, rows)
local pmtu = lo

-- Where is the limit? Probes one byte too big, TTL 1, 2, 3, ...
local hops = {}
local where, where_hop
if pmtu < max then
  print()
  printf("Locating the limit with %d-byte DF probes, TTL 1, 2, ...:\n", pmtu + 1)
  local last_hop
  for ttl = 1, 30 do
    local a = sr1(probe(pmtu + 1, ttl), {timeout=0.7, retries=1})
    local row = {ttl, a and a.kind or "no answer", a and addr(a.from) or "", a and a.mtu or ""}
    hops[#hops + 1] = row
    if a and (a.kind == "time-exceeded") then
      last_hop = {ttl=ttl, from=a.from}
    else
      if a and too_big[a.kind] then
        where = a.from
        where_hop = last_hop and last_hop.from == a.from and last_hop.ttl or nil
      elseif not a then
        where = last_hop and last_hop.from
        where_hop = last_hop and last_hop.ttl
      end
      break
    end
  end
  printtable({"TTL", "ANSWER", "FROM", "MTU"}, hops)
end
local after = kernel_mtu()

print()
local function km(m)
  if not m then return "unknown (the kernel sent the test datagram instead of refusing it)" end
  return m .. " bytes"
end
printf("kernel's MTU for the route to %s: before %s, now %s\n", dst, km(before), km(after))
print("  (read by sending a 65000-byte DF datagram with pmtu=\"do\": the kernel refuses it locally")
print("  with EMSGSIZE and names the MTU it holds — a cached path MTU, else the interface MTU)")
print()
if pmtu >= max then
  printf("RESULT: path MTU to %s is at least %d bytes: the largest probe came back.\n", dst, max)
elseif limiter and not silent then
  if local_limit then
    printf("RESULT: path MTU %d bytes, limited by this host's own interface or route.\n", pmtu)
  else
    printf("RESULT: path MTU %d bytes; the limit is at %s%s, which answered frag-needed mtu=%d.\n", pmtu,
      addr(where or limiter), where_hop and (", hop " .. where_hop) or "", reported or pmtu)
  end
elseif limiter and silent then
  printf("RESULT: path MTU %d bytes; %s reported mtu=%s, but some sizes vanished without an answer.\n",
    pmtu, addr(limiter), tostring(reported))
else
  printf("RESULT: path MTU %d bytes, found by elimination: datagrams of %d-%d bytes vanish without any\n", pmtu,
    pmtu + 1, max)
  printf("        ICMP error — a PMTU BLACK HOLE%s.\n", where and (" after hop " .. tostring(where_hop) .. ", " ..
    addr(where)) or "")
  if where then
    print("        Big probes reach that hop (it answers time-exceeded) and die beyond it: its next link")
    print("        is smaller and its frag-needed never arrives (dropped or filtered on the way back).")
  end
  if after and after > pmtu then
    printf("        The kernel still believes %d bytes fit: TCP segments of full size would hang here.\n", after)
  end
end
exit(0)
