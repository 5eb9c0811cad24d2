/**
 * The parse benchmark's corpus: realistic messages of one call, one registration and
 * presence/instant messaging, as they arrive on the wire (CRLF, Content-Length in bytes).
 * Each entry carries what a receive path must extract from it, so every parser in the
 * run can be checked for really decoding the message, not just splitting lines.
 */

/** The fields a transaction/dialog layer needs from every message it receives. */
export interface Extract {
  readonly callId: string
  readonly cseq: number
  readonly method: string
  readonly fromTag: string
  readonly toTag: string | undefined
  readonly branch: string
  readonly contactUser: string | undefined
  readonly contactHost: string | undefined
  readonly bodyLength: number
}

export interface Sample {
  readonly name: string
  readonly bytes: Uint8Array
  readonly expect: Extract
}

const encoder = new TextEncoder()

/** Joins header lines with CRLF and appends the body with a correct Content-Length. */
const message = (head: ReadonlyArray<string>, body = ""): Uint8Array => {
  const bodyBytes = encoder.encode(body)
  const text = `${head.join("\r\n")}\r\nContent-Length: ${bodyBytes.length}\r\n\r\n`
  const headBytes = encoder.encode(text)
  const out = new Uint8Array(headBytes.length + bodyBytes.length)
  out.set(headBytes, 0)
  out.set(bodyBytes, headBytes.length)
  return out
}

const callId = "a84b4c76e66710@pc33.atlanta.example.com"
const fromTag = "1928301774"
const toTag = "a6c85cf"

const sdpOffer = [
  "v=0",
  "o=alice 2890844526 2890844526 IN IP4 pc33.atlanta.example.com",
  "s=Session SDP",
  "c=IN IP4 192.0.2.101",
  "t=0 0",
  "m=audio 49172 RTP/AVP 0 8 101",
  "a=rtpmap:0 PCMU/8000",
  "a=rtpmap:8 PCMA/8000",
  "a=rtpmap:101 telephone-event/8000",
  "a=fmtp:101 0-15",
  "a=sendrecv",
  "",
].join("\r\n")

const sdpAnswer = [
  "v=0",
  "o=bob 2808844564 2808844564 IN IP4 client.biloxi.example.com",
  "s=Session SDP",
  "c=IN IP4 192.0.2.201",
  "t=0 0",
  "m=audio 3456 RTP/AVP 0 101",
  "a=rtpmap:0 PCMU/8000",
  "a=rtpmap:101 telephone-event/8000",
  "a=sendrecv",
  "",
].join("\r\n")

const pidf = [
  '<?xml version="1.0" encoding="UTF-8"?>',
  '<presence xmlns="urn:ietf:params:xml:ns:pidf" entity="sip:bob@biloxi.example.com">',
  '  <tuple id="sg89ae">',
  "    <status><basic>open</basic></status>",
  '    <contact priority="0.8">sip:bob@client.biloxi.example.com</contact>',
  '    <note xml:lang="en">Available — back at 10:00</note>',
  "  </tuple>",
  "</presence>",
  "",
].join("\n")

// the Via stack of the INVITE after two proxies (RFC 3261 §16.6 item 8)
const inviteVias = [
  "Via: SIP/2.0/UDP ss2.biloxi.example.com:5060;branch=z9hG4bK721e418c4.1",
  "Via: SIP/2.0/UDP ss1.atlanta.example.com:5060;branch=z9hG4bK2d4790.1;received=192.0.2.111",
  "Via: SIP/2.0/UDP pc33.atlanta.example.com:5060;branch=z9hG4bK776asdhds;received=192.0.2.101;rport=5060",
]
const recordRoutes = ["Record-Route: <sip:ss2.biloxi.example.com;lr>", "Record-Route: <sip:ss1.atlanta.example.com;lr>"]

export const corpus: ReadonlyArray<Sample> = [
  {
    name: "INVITE+SDP",
    bytes: message(
      [
        "INVITE sip:bob@client.biloxi.example.com SIP/2.0",
        ...inviteVias,
        "Max-Forwards: 68",
        ...recordRoutes,
        'From: "Alice" <sip:alice@atlanta.example.com>;tag=' + fromTag,
        "To: Bob <sip:bob@biloxi.example.com>",
        `Call-ID: ${callId}`,
        "CSeq: 314159 INVITE",
        "Contact: <sip:alice@pc33.atlanta.example.com;transport=udp>",
        "Allow: INVITE, ACK, CANCEL, OPTIONS, BYE, REFER, NOTIFY, MESSAGE, SUBSCRIBE, INFO",
        "Supported: replaces, timer, 100rel",
        "User-Agent: Softphone/2.4.1",
        "Content-Type: application/sdp",
      ],
      sdpOffer,
    ),
    expect: {
      callId,
      cseq: 314159,
      method: "INVITE",
      fromTag,
      toTag: undefined,
      branch: "z9hG4bK721e418c4.1",
      contactUser: "alice",
      contactHost: "pc33.atlanta.example.com",
      bodyLength: sdpOffer.length,
    },
  },
  {
    name: "100 Trying",
    bytes: message([
      "SIP/2.0 100 Trying",
      ...inviteVias,
      'From: "Alice" <sip:alice@atlanta.example.com>;tag=' + fromTag,
      "To: Bob <sip:bob@biloxi.example.com>",
      `Call-ID: ${callId}`,
      "CSeq: 314159 INVITE",
    ]),
    expect: {
      callId,
      cseq: 314159,
      method: "INVITE",
      fromTag,
      toTag: undefined,
      branch: "z9hG4bK721e418c4.1",
      contactUser: undefined,
      contactHost: undefined,
      bodyLength: 0,
    },
  },
  {
    name: "180 Ringing",
    bytes: message([
      "SIP/2.0 180 Ringing",
      ...inviteVias,
      ...recordRoutes,
      'From: "Alice" <sip:alice@atlanta.example.com>;tag=' + fromTag,
      `To: Bob <sip:bob@biloxi.example.com>;tag=${toTag}`,
      `Call-ID: ${callId}`,
      "CSeq: 314159 INVITE",
      "Contact: <sip:bob@client.biloxi.example.com:5060>",
    ]),
    expect: {
      callId,
      cseq: 314159,
      method: "INVITE",
      fromTag,
      toTag,
      branch: "z9hG4bK721e418c4.1",
      contactUser: "bob",
      contactHost: "client.biloxi.example.com",
      bodyLength: 0,
    },
  },
  {
    name: "200 OK+SDP",
    bytes: message(
      [
        "SIP/2.0 200 OK",
        ...inviteVias,
        ...recordRoutes,
        'From: "Alice" <sip:alice@atlanta.example.com>;tag=' + fromTag,
        `To: Bob <sip:bob@biloxi.example.com>;tag=${toTag}`,
        `Call-ID: ${callId}`,
        "CSeq: 314159 INVITE",
        "Contact: <sip:bob@client.biloxi.example.com:5060>",
        "Allow: INVITE, ACK, CANCEL, OPTIONS, BYE",
        "Supported: replaces, timer",
        "Content-Type: application/sdp",
      ],
      sdpAnswer,
    ),
    expect: {
      callId,
      cseq: 314159,
      method: "INVITE",
      fromTag,
      toTag,
      branch: "z9hG4bK721e418c4.1",
      contactUser: "bob",
      contactHost: "client.biloxi.example.com",
      bodyLength: sdpAnswer.length,
    },
  },
  {
    name: "ACK",
    bytes: message([
      "ACK sip:bob@client.biloxi.example.com:5060 SIP/2.0",
      "Via: SIP/2.0/UDP pc33.atlanta.example.com:5060;branch=z9hG4bKnashds9;rport",
      "Max-Forwards: 70",
      "Route: <sip:ss1.atlanta.example.com;lr>, <sip:ss2.biloxi.example.com;lr>",
      'From: "Alice" <sip:alice@atlanta.example.com>;tag=' + fromTag,
      `To: Bob <sip:bob@biloxi.example.com>;tag=${toTag}`,
      `Call-ID: ${callId}`,
      "CSeq: 314159 ACK",
    ]),
    expect: {
      callId,
      cseq: 314159,
      method: "ACK",
      fromTag,
      toTag,
      branch: "z9hG4bKnashds9",
      contactUser: undefined,
      contactHost: undefined,
      bodyLength: 0,
    },
  },
  {
    name: "BYE",
    bytes: message([
      "BYE sip:alice@pc33.atlanta.example.com;transport=udp SIP/2.0",
      "Via: SIP/2.0/UDP ss1.atlanta.example.com:5060;branch=z9hG4bK2d4790.2",
      "Via: SIP/2.0/UDP ss2.biloxi.example.com:5060;branch=z9hG4bK721e418c4.2;received=192.0.2.222",
      "Via: SIP/2.0/UDP client.biloxi.example.com:5060;branch=z9hG4bKnashds10;received=192.0.2.201",
      "Max-Forwards: 68",
      `From: Bob <sip:bob@biloxi.example.com>;tag=${toTag}`,
      'To: "Alice" <sip:alice@atlanta.example.com>;tag=' + fromTag,
      `Call-ID: ${callId}`,
      "CSeq: 231 BYE",
      "User-Agent: Deskphone/7.0",
    ]),
    expect: {
      callId,
      cseq: 231,
      method: "BYE",
      fromTag: toTag,
      toTag: fromTag,
      branch: "z9hG4bK2d4790.2",
      contactUser: undefined,
      contactHost: undefined,
      bodyLength: 0,
    },
  },
  {
    name: "REGISTER+Authorization",
    bytes: message([
      "REGISTER sip:registrar.biloxi.example.com SIP/2.0",
      "Via: SIP/2.0/UDP client.biloxi.example.com:5060;branch=z9hG4bKnashds7;rport",
      "Max-Forwards: 70",
      "From: Bob <sip:bob@biloxi.example.com>;tag=456248",
      "To: Bob <sip:bob@biloxi.example.com>",
      "Call-ID: 843817637684230@998sdasdh09",
      "CSeq: 1827 REGISTER",
      "Contact: <sip:bob@client.biloxi.example.com:5060;transport=udp>;expires=3600;q=0.9",
      'Authorization: Digest username="bob", realm="biloxi.example.com", nonce="dcd98b7102dd2f0e8b11d0f600bfb0c093", uri="sip:registrar.biloxi.example.com", response="6629fae49393a05397450978507c4ef1", algorithm=MD5, cnonce="0a4f113b", qop=auth, nc=00000001, opaque="5ccc069c403ebaf9f0171e9517f40e41"',
      "Expires: 3600",
      "User-Agent: Deskphone/7.0",
    ]),
    expect: {
      callId: "843817637684230@998sdasdh09",
      cseq: 1827,
      method: "REGISTER",
      fromTag: "456248",
      toTag: undefined,
      branch: "z9hG4bKnashds7",
      contactUser: "bob",
      contactHost: "client.biloxi.example.com",
      bodyLength: 0,
    },
  },
  {
    name: "NOTIFY+PIDF",
    bytes: message(
      [
        "NOTIFY sip:alice@pc33.atlanta.example.com SIP/2.0",
        "Via: SIP/2.0/TCP server.biloxi.example.com:5060;branch=z9hG4bK4cd42a",
        "Max-Forwards: 70",
        "From: <sip:bob@biloxi.example.com>;tag=ffd2",
        "To: <sip:alice@atlanta.example.com>;tag=xfg9",
        "Call-ID: 2010b@pc33.atlanta.example.com",
        "CSeq: 2 NOTIFY",
        "Contact: <sip:server.biloxi.example.com;transport=tcp>",
        "Event: presence",
        "Subscription-State: active;expires=599",
        "Content-Type: application/pidf+xml",
      ],
      pidf,
    ),
    expect: {
      callId: "2010b@pc33.atlanta.example.com",
      cseq: 2,
      method: "NOTIFY",
      fromTag: "ffd2",
      toTag: "xfg9",
      branch: "z9hG4bK4cd42a",
      contactUser: undefined,
      contactHost: "server.biloxi.example.com",
      bodyLength: encoder.encode(pidf).length,
    },
  },
  {
    name: "MESSAGE",
    bytes: message(
      [
        "MESSAGE sip:user2@domain.example.com SIP/2.0",
        "Via: SIP/2.0/TCP user1pc.domain.example.com;branch=z9hG4bK776sgdkse",
        "Max-Forwards: 70",
        "From: sip:user1@domain.example.com;tag=49583",
        "To: sip:user2@domain.example.com",
        "Call-ID: asd88asd77a@1.2.3.4",
        "CSeq: 1 MESSAGE",
        "Content-Type: text/plain",
      ],
      "Watson, come here.",
    ),
    expect: {
      callId: "asd88asd77a@1.2.3.4",
      cseq: 1,
      method: "MESSAGE",
      fromTag: "49583",
      toTag: undefined,
      branch: "z9hG4bK776sgdkse",
      contactUser: undefined,
      contactHost: undefined,
      bodyLength: 18,
    },
  },
]
