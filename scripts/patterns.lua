-- patterns: hunt a data-dependent fault — which payloads get lost or damaged, and where.
--
-- usage: echolot run patterns [HOST] [SIZES] [COUNT]
--   HOST   where to send ICMP echo requests (default: the lab's server)
--   SIZES  payload sizes in bytes, comma-separated (default 56,1000)
--   COUNT  probes per pattern and size (default 1; each is retried once)
--
-- Sends every pattern of the catalogue (the classic troublemakers: zeros,
-- ones, 0x55/0xaa, the HDLC flag 0x7e, XON/XOFF, +++ATH0, walking ones
-- and zeros, PRBS, ...) and all 256 single-byte fills at each size, and
-- checks every reply byte by byte. For a pattern that never comes back it
-- narrows the payload down to the smallest run of bytes that still fails
-- (the rest replaced by a pattern that passed) and tries that run at other
-- offsets, to tell "this content anywhere" from "this content at offset N".
-- Damaged replies are summed up in a damage map: which payload offsets
-- differ and which bits flipped, over all patterns.
-- Offsets count from the first byte after the ICMP header, as ping's
-- "wrong data byte #N" and the lab's fault rules do.
-- Exit status: 0 when every pattern came back intact, 1 when a fault was
-- found, 2 on bad arguments.

local dst = target(arg[1], "4")

local sizes = {}
for s in string.gmatch(arg[2] or "56,1000", "[^,]+") do
  local n = tonumber(s)
  if not n or n ~= math.floor(n) or n < 8 or n > 65000 then
    usage("size " .. s .. " is out of range, the limit is 8-65000 bytes")
  end
  sizes[#sizes + 1] = n
end
if #sizes == 0 then usage("SIZES is empty") end
local count = tonumber(arg[3] or 1)
if not count or count ~= math.floor(count) or count < 1 or count > 20 then
  usage("COUNT " .. tostring(arg[3]) .. " is out of range, the limit is 1-20")
end

local function hexbytes(s, max)
  local t = {}
  for i = 1, math.min(#s, max or #s) do t[#t + 1] = string.format("%02x", string.byte(s, i)) end
  local r = table.concat(t, " ")
  if max and #s > max then r = r .. " ..." end
  return r
end

local v6 = string.find(dst, ":", 1, true) ~= nil
local function echo(payload)
  if v6 then return ip6{dst=dst} / icmp6{} / raw(payload) end
  return ip{dst=dst} / icmp{} / raw(payload)
end

printf("PATTERNS %s: payload sizes %s, %d probe(s) per pattern and size\n", whois(dst), table.concat(sizes, ", "), count)

-- Is the target there at all? A fault that drops everything is not data-dependent.
local first = sr1(echo(pattern.random(56, 1)), {timeout=1, retries=2})
if not first then
  printf("no reply to a plain 56-byte echo request: %s is unreachable or drops everything;\n", dst)
  print("nothing data-dependent can be measured.")
  exit(1)
end

-- The probes: the catalogue, then the byte fills the catalogue does not already hold.
local results = {}   -- [size] = list of {name, bytes, kind="catalogue"|"fill", sent, lost, damaged, dmg}
for _, n in ipairs(sizes) do
  local list, seen = {}, {}
  for _, p in ipairs(pattern.catalogue(n)) do
    if not seen[p.bytes] then
      seen[p.bytes] = true
      list[#list + 1] = {name=p.name, bytes=p.bytes, kind="catalogue", sent=0, lost=0, damaged=0}
    end
  end
  for v = 0, 255 do
    local p = pattern.bytes({v}, n)
    if not seen[p.bytes] then
      seen[p.bytes] = true
      list[#list + 1] = {name=string.format("fill 0x%02x", v), bytes=p.bytes, kind="fill", sent=0, lost=0, damaged=0}
    end
  end
  results[n] = list
end

local by_bytes = {}
local probes = {}
for _, n in ipairs(sizes) do
  for _, r in ipairs(results[n]) do
    by_bytes[r.bytes] = r
    for _ = 1, count do probes[#probes + 1] = echo(r.bytes) end
  end
end
printf("sending %d probes ...\n\n", #probes)
local answered, unanswered = sr(probes, {timeout=1, retries=1, rate=2000})

local damage_map = {}   -- [offset] = {n=, bits=, example=, patterns={name=true}}
local damaged_replies = 0
for _, a in ipairs(answered) do
  local r = by_bytes[a.probe.payload]
  if r then
    r.sent = r.sent + 1
    if a.damage then
      r.damaged = r.damaged + 1
      r.dmg = a.damage
      damaged_replies = damaged_replies + 1
      for _, b in ipairs(a.damage.bytes) do
        local e = damage_map[b.offset]
        if not e then
          e = {n=0, bits=0, rise=0, fall=0, example=string.format("%02x->%02x", b.sent, b.got), patterns={}, npat=0}
          damage_map[b.offset] = e
        end
        local x = bit.bxor(b.sent, b.got)
        e.n = e.n + 1
        e.bits = bit.bor(e.bits, x)
        e.rise = bit.bor(e.rise, bit.band(b.got, x))
        e.fall = bit.bor(e.fall, bit.band(b.sent, x))
        if not e.patterns[r.name] then e.patterns[r.name] = true; e.npat = e.npat + 1 end
      end
      if a.damage.truncated or a.damage.extended then
        r.length = string.format("%d->%d bytes", a.damage.sent_len, a.damage.got_len)
      end
    end
  end
end
for _, p in ipairs(unanswered) do
  local r = by_bytes[p.payload]
  if r then r.sent = r.sent + 1; r.lost = r.lost + 1 end
end

local function verdict(r)
  if r.sent == 0 then return "?" end
  if r.lost == r.sent then return "LOST" end
  if r.damaged > 0 then return string.format("DAMAGED %d/%d", r.damaged, r.sent) end
  if r.lost > 0 then return string.format("loss %d/%d", r.lost, r.sent) end
  return "ok"
end

-- The catalogue table: one row per pattern, one column per size.
print("Catalogue (what each pattern tests is in `help(\"pattern.catalogue\")`):")
local head = {"PATTERN"}
for _, n in ipairs(sizes) do head[#head + 1] = n .. " B" end
local rows, index = {}, {}
for si, n in ipairs(sizes) do
  for _, r in ipairs(results[n]) do
    if r.kind == "catalogue" then
      local row = index[r.name]
      if not row then
        row = {r.name}
        rows[#rows + 1] = row
        index[r.name] = row
      end
      row[si + 1] = verdict(r)
    end
  end
end
for _, row in ipairs(rows) do
  for si = 1, #sizes do row[si + 1] = row[si + 1] or "-" end
end
printtable(head, rows)

-- The byte fills: a summary line per size, with the failing values named.
print()
print("Single-byte fills 0x00-0xff (those the catalogue holds already are not repeated):")
for _, n in ipairs(sizes) do
  local ok, bad = 0, {}
  for _, r in ipairs(results[n]) do
    if r.kind == "fill" then
      if verdict(r) == "ok" then ok = ok + 1 else bad[#bad + 1] = r.name:sub(6) .. " " .. verdict(r) end
    end
  end
  if #bad > 8 then
    local n_bad = #bad
    for i = #bad, 7, -1 do bad[i] = nil end
    bad[#bad + 1] = string.format("... (%d in all)", n_bad)
  end
  printf("  %5d B: %d ok%s\n", n, ok, #bad > 0 and ", failing: " .. table.concat(bad, ", ") or ", none failing")
end

-- Every pattern that failed, once per content and size.
local failing = {}
for _, n in ipairs(sizes) do
  for _, r in ipairs(results[n]) do
    if verdict(r) ~= "ok" then failing[#failing + 1] = {size=n, r=r} end
  end
end

local findings = {}
local narrowed = {}   -- by pattern name: the minimal failing content

-- fails(payload): true when the payload gets no reply (one retry)
local function fails(payload)
  return sr1(echo(payload), {timeout=0.5, retries=1}) == nil
end

-- A filler that passed at size n, to replace the bytes that do not matter.
local function filler(n)
  for _, want in ipairs({"zeros", "ones", "0x55", "ramp", "random"}) do
    for _, r in ipairs(results[n]) do
      if r.name == want and verdict(r) == "ok" then return r.bytes end
    end
  end
  for _, r in ipairs(results[n]) do
    if verdict(r) == "ok" then return r.bytes end
  end
end

-- Narrow a lost pattern down: the shortest run B[a..b] that still fails
-- inside the filler, then the same run at other offsets.
local function narrow(r, n)
  local B, F = r.bytes, filler(n)
  if not F then return nil, "no pattern of this size passed, so there is nothing to fill with" end
  local function mix(a, b) return F:sub(1, a - 1) .. B:sub(a, b) .. F:sub(b + 1) end
  if not fails(mix(1, n)) then return nil, "the loss did not repeat" end
  local lo, hi = 1, n
  while lo < hi do
    local mid = math.ceil((lo + hi) / 2)
    if fails(mix(mid, n)) then lo = mid else hi = mid - 1 end
  end
  local a = lo
  lo, hi = a, n
  while lo < hi do
    local mid = math.floor((lo + hi) / 2)
    if fails(mix(a, mid)) then hi = mid else lo = mid + 1 end
  end
  local b = lo
  local run = B:sub(a, b)
  -- the same run elsewhere: at the start, in the middle, at the end
  local places, moved = {}, {}
  for _, off in ipairs({0, math.floor((n - #run) / 2), n - #run}) do
    if off ~= a - 1 and not moved[off] then
      moved[off] = true
      places[#places + 1] = off
    end
  end
  local tried = {}
  for _, off in ipairs(places) do
    local p = F:sub(1, off) .. run .. F:sub(off + #run + 1)
    tried[#tried + 1] = {offset=off, lost=fails(p)}
  end
  return {run=run, offset=a - 1, tried=tried}
end

if #failing > 0 then
  print()
  print("Failing patterns:")
  local frows, shown = {}, 0
  for _, f in ipairs(failing) do
    shown = shown + 1
    if shown > 12 and f.r.lost < f.r.sent then
      frows[#frows + 1] = {"...", "", "", "", string.format("%d more; the damage map below sums them up", #failing - 12)}
      break
    end
    frows[#frows + 1] = {f.r.name, f.size .. " B", verdict(f.r), hexbytes(f.r.bytes, 8),
      f.r.dmg and f.r.dmg.text or (f.r.lost == f.r.sent and "no reply at all" or "some replies missing")}
  end
  printtable({"PATTERN", "SIZE", "RESULT", "FIRST BYTES", "DETAIL"}, frows)

  -- narrow each lost content once, at its smallest failing size
  local done = {}
  for _, f in ipairs(failing) do
    local r = f.r
    if r.lost == r.sent and not done[r.name] then
      done[r.name] = true
      printf("\nNarrowing down %s (%d B): replacing bytes with a pattern that passed ...\n", r.name, f.size)
      local res, why = narrow(r, f.size)
      if not res then
        printf("  could not narrow it down: %s\n", why)
        findings[#findings + 1] = string.format("%s (%d B) gets no reply", r.name, f.size)
      else
        local anywhere = true
        for _, t in ipairs(res.tried) do if not t.lost then anywhere = false end end
        printf("  smallest failing run: %s (%d byte%s) at offset %d\n", hexbytes(res.run, 16), #res.run,
          #res.run == 1 and "" or "s", res.offset)
        for _, t in ipairs(res.tried) do
          printf("  the same run at offset %-5d %s\n", t.offset, t.lost and "lost as well" or "passes")
        end
        local where = anywhere and "at any offset" or string.format("only at offset %d", res.offset)
        if #res.tried == 0 then where = string.format("at offset %d", res.offset) end
        narrowed[r.name] = true
        findings[#findings + 1] = string.format("payloads holding %s (%s; pattern %s) get no reply",
          hexbytes(res.run, 16), where, r.name)
      end
    end
  end
end

-- The damage map over all damaged replies.
local offsets = {}
for off in pairs(damage_map) do offsets[#offsets + 1] = off end
table.sort(offsets)
if #offsets > 0 then
  print()
  printf("Damage map (%d damaged replies; offsets from the start of the ICMP data):\n", damaged_replies)
  local drows = {}
  for i, off in ipairs(offsets) do
    if i > 24 then
      drows[#drows + 1] = {"...", string.format("%d more offsets", #offsets - 24)}
      break
    end
    local e = damage_map[off]
    local how = "0->1 and 1->0"
    if e.fall == 0 then how = "only 0->1 (stuck at 1?)" elseif e.rise == 0 then how = "only 1->0 (stuck at 0?)" end
    drows[#drows + 1] = {off, e.n, "0x" .. bit.tohex(e.bits, 2), how, e.example, e.npat}
  end
  printtable({"OFFSET", "REPLIES", "BITS", "CHANGED", "E.G. SENT->GOT", "PATTERNS"}, drows)
  local list = {}
  for i, off in ipairs(offsets) do
    if i > 8 then list[#list + 1] = "..." break end
    list[#list + 1] = string.format("%d (bits 0x%s)", off, bit.tohex(damage_map[off].bits, 2))
  end
  local dpat, apat = 0, 0
  for _, n in ipairs(sizes) do
    for _, r in ipairs(results[n]) do
      if r.damaged > 0 then dpat = dpat + 1 end
      if r.sent > r.lost then apat = apat + 1 end
    end
  end
  findings[#findings + 1] = string.format("replies come back damaged at payload offset%s %s: %d of %d patterns%s",
    #offsets == 1 and "" or "s", table.concat(list, ", "), dpat, apat,
    dpat == apat and " (every pattern: the damage does not depend on the data)" or " (the damage depends on the data)")
end

print()
if #findings == 0 then
  local total = 0
  for _, n in ipairs(sizes) do total = total + #results[n] end
  printf("RESULT: no data-dependent fault: all %d patterns came back intact.\n", total)
  exit(0)
end
for _, f in ipairs(findings) do print("RESULT: " .. f .. ".") end
local others = 0
for _, n in ipairs(sizes) do
  for _, r in ipairs(results[n]) do if verdict(r) == "ok" then others = others + 1 end end
end
printf("        %d other pattern/size combinations passed.\n", others)
exit(1)
