-- wrk script: etcd v3 puts through its JSON gateway, each to a new key, ~300-byte values.
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
local value = string.rep("v", 300)
local counter = 0
request = function()
  counter = counter + 1
  local key = "/registry/bench/" .. tostring(math.random(1, 1000000000)) .. "-" .. counter
  local body = string.format('{"key":"%s","value":"%s"}', key:gsub("\n",""), value)
  -- etcd expects base64 keys and values.
  body = '{"key":"' .. b64(key) .. '","value":"' .. b64(value) .. '"}'
  return wrk.format(nil, nil, nil, body)
end
local b = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/'
function b64(data)
  return ((data:gsub('.', function(x)
    local r, byte = '', x:byte()
    for i = 8, 1, -1 do r = r .. (byte % 2 ^ i - byte % 2 ^ (i - 1) > 0 and '1' or '0') end
    return r
  end) .. '0000'):gsub('%d%d%d?%d?%d?%d?', function(x)
    if (#x < 6) then return '' end
    local c = 0
    for i = 1, 6 do c = c + (x:sub(i, i) == '1' and 2 ^ (6 - i) or 0) end
    return b:sub(c + 1, c + 1)
  end) .. ({ '', '==', '=' })[#data % 3 + 1])
end
