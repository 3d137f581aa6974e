-- ts: IPv4 timestamp option — who stamps, when, the overflow counter, and ping -T's extra stamp.
--
-- usage: echolot run ts [HOST]
--   HOST  the destination (default: the lab's server); IPv4 only
--
-- Sends ICMP echo requests carrying the IPv4 Timestamp option (RFC 791)
-- in its three flavours:
--   tsonly     up to 9 stamps, no addresses
--   tsandaddr  up to 4 address+stamp pairs (each hop says who it is)
--   prespec    only the listed addresses stamp (up to 4), here hops
--              taken from the tsandaddr run
-- and once more as the kernel builds tsandaddr for ping -T (the sender
-- stamps the first slot itself: {prefill=true}), because a header built
-- by echolot leaves every slot to the path.
-- Stamps are milliseconds since midnight UT. Every hop that wants to
-- stamp but finds the option full increments its 4-bit overflow counter
-- instead: unlike record route, the timestamp option tells how much of
-- the path went unrecorded.
-- Exit status: 0 when stamps came back, 1 when no reply did (many
-- networks drop packets with IP options) or it came without the option,
-- 2 on bad arguments.

if arg[2] then usage("too many arguments") end
local dst = target(arg[1], "4") -- the timestamp option is IPv4 only

local function clock(ms)
  local s = math.floor(ms / 1000)
  return string.format("%02d:%02d:%02d.%03d", math.floor(s / 3600), math.floor(s / 60) % 60, s % 60, ms % 1000)
end

-- Sends one probe with option o; returns the reply's stamps and answer.
local function stamp(o)
  local a = sr1(ip{dst=dst, options={o}} / icmp{} / raw(pattern.ramp(56)), {timeout=1, retries=2})
  if not a then return nil end
  return a.packet.ip.ts or {}, a
end

local function show(title, ts, src)
  print()
  printf("%s: %d stamp%s, overflow %d\n", title, #ts, #ts == 1 and "" or "s", ts.overflow or 0)
  local rows, t0 = {}, nil
  for i, e in ipairs(ts) do
    t0 = t0 or e.ms
    local who = e.addr and (nodename(e.addr) or "") or "(no address in tsonly)"
    if e.addr and e.addr == src then who = who .. " (this host)" end
    rows[#rows + 1] = {i, e.addr or "-", who, clock(e.ms) .. (e.nonstandard and " (non-standard)" or ""),
      string.format("+%d", e.ms - t0)}
  end
  printtable({"#", "ADDRESS", "NODE", "TIME (UT)", "MS"}, rows)
  if (ts.overflow or 0) > 0 then
    printf("  overflow %d: %d more stamp%s wanted to go in, but the option was full.\n", ts.overflow, ts.overflow,
      ts.overflow == 1 and "" or "s")
  end
end

printf("TS %s: ICMP echo with the IPv4 timestamp option\n", whois(dst))

local only, a = stamp(opt.ts("tsonly"))
if not only then
  printf("no reply to an echo request with a timestamp option: %s (or a router) drops IPv4 options.\n", dst)
  exit(1)
end
if not a.packet.ip.ts then
  printf("The echo reply from %s came back WITHOUT the timestamp option: something on the path strips\n", dst)
  print("IPv4 options, or the destination does not copy them. `echolot run rr` finds the hop.")
  exit(1)
end
local src = a.probe.ip.src
show("1. tsonly, 9 slots (opt.ts(\"tsonly\"))", only, src)

local both = stamp(opt.ts("tsandaddr")) or {}
show("2. tsandaddr, 4 slots (opt.ts(\"tsandaddr\"))", both, src)
print("  Each hop stamps with the address of the interface the packet came in on.")

-- prespec: the routers seen in tsandaddr, then the destination (at most 4)
local want, seen = {}, {}
for _, e in ipairs(both) do
  if e.addr and e.addr ~= dst and e.addr ~= src and not seen[e.addr] and #want < 3 then
    want[#want + 1] = e.addr
    seen[e.addr] = true
  end
end
want[#want + 1] = dst
local pre = stamp(opt.ts("prespec", want)) or {}
show("3. prespec for " .. table.concat(want, ", ") .. " (opt.ts(\"prespec\", {...}))", pre, src)
local stamped = 0
for _, e in ipairs(pre) do if e.ms and e.ms > 0 then stamped = stamped + 1 end end
printf("  %d of the %d listed addresses stamped; a hop stamps only when the next listed address is its own.\n",
  stamped, #want)

-- As the kernel builds it for ping -T tsandaddr: the sender's address and
-- time already in the first slot, the pointer past it.
local kern = stamp(opt.ts("tsandaddr", {prefill=true})) or {}
show("4. tsandaddr as ping -T builds it (the sender stamps slot 1: opt.ts(\"tsandaddr\", {prefill=true}))", kern, src)

print()
print("Why kernel-built and self-built options record a different number of hops:")
print("  The kernel stamps the sender into the first slot when it builds the option for a socket")
print("  (IP_OPTIONS, as ping -T does); a header built by echolot goes out with every slot free.")
printf("  With 4 tsandaddr slots the path keeps one slot less: here %d stamps from the path against %d.\n",
  #kern > 0 and #kern - 1 or 0, #both)
print("  (iputils ping -T tsandaddr prints the same list: this host first, then the hops.)")
print("  Linux hosts also stamp on receipt, so the destination and this host take slots too.")

local path = {}
for _, e in ipairs(both) do path[#path + 1] = e.addr .. (nodename(e.addr) and "(" .. nodename(e.addr) .. ")" or "") end
print()
printf("RESULT: %d stamps in tsonly (overflow %d); tsandaddr stamped by %s (overflow %d).\n", #only,
  only.overflow or 0, #path > 0 and table.concat(path, " ") or "nobody", both.overflow or 0)
exit(0)
