#!/usr/bin/env python3
"""Writes weft's sample events: three Genesys Cloud conversations (inbound voice, web chat that ends in voicemail,
outbound campaign call) covering all 16 conversation detail topics, plus events of other topic families.

The values are synthetic (no real org, person or number); the shapes follow Genesys' field tables. Re-run from the
repo root after changing it:  python3 samples/generate.py
"""
import json
import uuid
from pathlib import Path

ORG = "32aa07aa-db1b-4987-abd0-9483601ec29d"
SOURCE = f"aws.partner/genesys.com/cloud/{ORG}/weft-samples"
NS = uuid.UUID("6f1c1d0e-8a8b-4b0e-9b76-1e3c0f5a9a11")


def uid(*parts):
    return str(uuid.uuid5(NS, "/".join(parts)))


def envelope(conversation, kind, body, at_ms):
    seconds = at_ms // 1000
    iso = lambda ms, frac: __import__("datetime").datetime.fromtimestamp(ms / 1000, __import__("datetime").timezone.utc).strftime("%Y-%m-%dT%H:%M:%S") + (f".{ms % 1000:03d}Z" if frac else "Z")
    return {
        "version": "0",
        "id": uid(conversation, kind, str(at_ms)),
        "detail-type": f"v2.detail.events.conversation.{{id}}.{kind}",
        "source": SOURCE,
        "account": "123456789012",
        "time": iso(seconds * 1000, False),
        "region": "us-east-1",
        "resources": [],
        "detail": {
            "topicName": f"v2.detail.events.conversation.{conversation}.{kind}",
            "version": "2",
            "eventBody": {"eventTime": at_ms, "conversationId": conversation, **body},
            "metadata": {"CorrelationId": uid(conversation, kind, "correlation")},
            "timestamp": iso(at_ms + 13, True),
        },
    }


QUEUE_BILLING = uid("queue", "billing")
QUEUE_SUPPORT = uid("queue", "support")
AGENT_ANA = uid("user", "ana")
AGENT_BEN = uid("user", "ben")
DIVISION = uid("division", "home")
WRAPUP_RESOLVED = uid("wrapup", "resolved")
FLOW_MAIN = uid("flow", "main-ivr")
CONTACT = uid("external-contact", "1")
EXT_ORG = uid("external-org", "1")


def voice_call():
    c = uid("conversation", "voice")
    customer, ivr, acd, agent = uid(c, "customer"), uid(c, "ivr"), uid(c, "acd"), uid(c, "agent")
    s_customer, s_ivr, s_acd, s_agent = uid(c, "s1"), uid(c, "s2"), uid(c, "s3"), uid(c, "s4")
    t = 1764237600000
    voice = {"mediaType": "VOICE", "provider": "Edge", "direction": "INBOUND", "ani": "tel:+15555550123", "dnis": "tel:+18005550100",
             "conversationExternalContactIds": [CONTACT], "conversationExternalOrganizationIds": [EXT_ORG]}
    flow = {"flowType": "INBOUNDCALL", "flowId": FLOW_MAIN, "divisionId": DIVISION, "flowVersion": "12.0"}
    return [
        envelope(c, "customer.start", {"participantId": customer, "sessionId": s_customer, **voice, "addressFrom": "tel:+15555550123",
                                       "addressTo": "tel:+18005550100", "divisionId": DIVISION}, t),
        envelope(c, "flow.start", {"participantId": ivr, "sessionId": s_ivr, **voice, **flow}, t + 180),
        envelope(c, "attributes", {"participantId": ivr, "attributes": {"intent": "billing", "language": "en-US"},
                                   "conversationExternalContactIds": [CONTACT], "communications": [{"id": s_ivr, "mediaType": "VOICE"}]}, t + 9400),
        envelope(c, "flow.outcome", {"participantId": ivr, "sessionId": s_ivr, **voice, **flow, "flowOutcomeId": uid("outcome", "identified"),
                                     "flowOutcomeStartTime": t + 2000, "flowOutcomeEndTime": t + 9500, "flowOutcomeValue": "SUCCESS",
                                     "flowMilestones": [{"milestoneId": uid("milestone", "menu"), "milestoneTime": t + 4100}]}, t + 9500),
        envelope(c, "flow.end", {"participantId": ivr, "sessionId": s_ivr, **voice, **flow, "disconnectType": "TRANSFER",
                                 "connectedDurationMs": 9620, "exitReason": "TRANSFER", "transferType": "ACD"}, t + 9800),
        envelope(c, "acd.start", {"participantId": acd, "sessionId": s_acd, **voice, "queueId": QUEUE_BILLING, "divisionId": DIVISION,
                                  "routingPriority": 0, "requestedRoutingSkillIds": [uid("skill", "billing")]}, t + 9850),
        envelope(c, "acd.end", {"participantId": acd, "sessionId": s_acd, **voice, "queueId": QUEUE_BILLING, "divisionId": DIVISION,
                                "disconnectType": "TRANSFER", "acdOutcome": "ANSWERED", "answeredUserId": AGENT_ANA, "usedRouting": "BULLSEYE",
                                "requestedRoutings": ["Bullseye"], "connectedDurationMs": 41200}, t + 51050),
        envelope(c, "user.start", {"participantId": agent, "sessionId": s_agent, **voice, "userId": AGENT_ANA, "queueId": QUEUE_BILLING,
                                   "divisionId": DIVISION}, t + 51100),
        envelope(c, "contact", {"participantId": customer, "sessionId": s_customer, **voice, "externalContactId": CONTACT,
                                "externalOrganizationId": EXT_ORG}, t + 60000),
        envelope(c, "customer.end", {"participantId": customer, "sessionId": s_customer, **voice, "disconnectType": "PEER",
                                     "interactingDurationMs": 312000, "divisionId": DIVISION}, t + 363100),
        envelope(c, "user.end", {"participantId": agent, "sessionId": s_agent, **voice, "userId": AGENT_ANA, "queueId": QUEUE_BILLING,
                                 "divisionId": DIVISION, "disconnectType": "CLIENT", "interactingDurationMs": 312000, "heldDurationMs": 45000,
                                 "alertingDurationMs": 4100, "contactingDurationMs": 0}, t + 363150),
        envelope(c, "wrapup", {"participantId": agent, "sessionId": s_agent, **voice, "queueId": QUEUE_BILLING, "wrapupCode": WRAPUP_RESOLVED,
                               "wrapupNotes": "Explained the late fee.", "wrapupDurationMs": 38000}, t + 401100),
        envelope(c, "acw", {"participantId": agent, "sessionId": s_agent, **voice, "userId": AGENT_ANA, "queueId": QUEUE_BILLING,
                            "wrapupCode": WRAPUP_RESOLVED, "wrapupNotes": "Explained the late fee.", "wrapupDurationMs": 38000}, t + 401150),
    ]


def chat_to_voicemail():
    c = uid("conversation", "chat")
    customer, bot, acd, vm = uid(c, "customer"), uid(c, "bot"), uid(c, "acd"), uid(c, "voicemail")
    t = 1764241200000
    chat = {"mediaType": "CHAT", "provider": "PureCloud Webchat v2", "direction": "INBOUND", "addressFrom": "visitor@example.invalid"}
    return [
        envelope(c, "customer.start", {"participantId": customer, "sessionId": uid(c, "s1"), **chat, "conversationExternalContactIds": [],
                                       "journeyContext": {"sessionId": uid(c, "journey"), "sessionIdType": "web"}}, t),
        envelope(c, "flow.start", {"participantId": bot, "sessionId": uid(c, "s2"), **chat, "flowType": "DIGITALBOT", "flowId": uid("flow", "bot"),
                                   "divisionId": DIVISION, "flowVersion": "3.0"}, t + 400),
        envelope(c, "flow.end", {"participantId": bot, "sessionId": uid(c, "s2"), **chat, "flowType": "DIGITALBOT", "flowId": uid("flow", "bot"),
                                 "divisionId": DIVISION, "flowVersion": "3.0", "disconnectType": "TRANSFER", "exitReason": "FLOW_EXIT",
                                 "transferType": "ACD", "connectedDurationMs": 52000}, t + 52400),
        envelope(c, "acd.start", {"participantId": acd, "sessionId": uid(c, "s3"), **chat, "queueId": QUEUE_SUPPORT, "divisionId": DIVISION}, t + 52500),
        envelope(c, "acd.end", {"participantId": acd, "sessionId": uid(c, "s3"), **chat, "queueId": QUEUE_SUPPORT, "divisionId": DIVISION,
                                "disconnectType": "TRANSFER", "acdOutcome": "FLOW_OUT", "connectedDurationMs": 120000}, t + 172500),
        envelope(c, "voicemail.start", {"participantId": vm, "sessionId": uid(c, "s4"), "mediaType": "CHAT", "provider": "PureCloud Webchat v2",
                                        "direction": "INBOUND", "queueId": QUEUE_SUPPORT, "divisionId": DIVISION}, t + 172600),
        envelope(c, "voicemail.end", {"participantId": vm, "sessionId": uid(c, "s4"), "mediaType": "CHAT", "provider": "PureCloud Webchat v2",
                                      "direction": "INBOUND", "queueId": QUEUE_SUPPORT, "divisionId": DIVISION, "disconnectType": "CLIENT",
                                      "voicemailDurationMs": 21000}, t + 193600),
        envelope(c, "customer.end", {"participantId": customer, "sessionId": uid(c, "s1"), **chat, "disconnectType": "CLIENT",
                                     "interactingDurationMs": 193700}, t + 193700),
    ]


def outbound_campaign():
    c = uid("conversation", "outbound")
    customer, agent = uid(c, "customer"), uid(c, "agent")
    t = 1764244800000
    voice = {"mediaType": "VOICE", "provider": "Edge", "direction": "OUTBOUND", "ani": "tel:+18005550100", "dnis": "tel:+15555550188"}
    return [
        envelope(c, "outbound", {"participantId": customer, "sessionId": uid(c, "s1"), **voice, "outboundCampaignId": uid("campaign", "renewals"),
                                 "outboundContactListId": uid("contact-list", "renewals"), "outboundContactId": uid("contact", "42"),
                                 "divisionId": DIVISION}, t),
        envelope(c, "customer.start", {"participantId": customer, "sessionId": uid(c, "s1"), **voice}, t + 6000),
        envelope(c, "user.start", {"participantId": agent, "sessionId": uid(c, "s2"), **voice, "userId": AGENT_BEN, "queueId": QUEUE_SUPPORT}, t + 6100),
        envelope(c, "user.end", {"participantId": agent, "sessionId": uid(c, "s2"), **voice, "userId": AGENT_BEN, "queueId": QUEUE_SUPPORT,
                                 "disconnectType": "PEER", "interactingDurationMs": 95000, "dialingDurationMs": 5900}, t + 101100),
        envelope(c, "customer.end", {"participantId": customer, "sessionId": uid(c, "s1"), **voice, "disconnectType": "PEER",
                                     "interactingDurationMs": 95000}, t + 101150),
        envelope(c, "acw", {"participantId": agent, "sessionId": uid(c, "s2"), **voice, "userId": AGENT_BEN, "queueId": QUEUE_SUPPORT,
                            "wrapupCode": "ININ-WRAP-UP-TIMEOUT", "wrapupDurationMs": 60000}, t + 161150),
    ]


def other_topics():
    """Same envelope, other topic families: weft's default rule drops them (reason: not a conversation detail event)."""
    audit = {
        "version": "0", "id": uid("audit", "1"), "detail-type": "v2.audits.entitytype.{id}.entityid.{id}", "source": SOURCE,
        "account": "123456789012", "time": "2025-11-27T10:00:00Z", "region": "us-east-1", "resources": [],
        "detail": {"topicName": f"v2.audits.entitytype.Queue.entityid.{QUEUE_BILLING}", "version": "2",
                   "eventBody": {"id": uid("audit", "1", "body"), "userId": AGENT_BEN, "serviceName": "Routing",
                                 "eventTime": "2025-11-27T10:00:00.000Z", "action": "Update", "entityType": "Queue",
                                 "entity": {"id": QUEUE_BILLING, "name": "Billing"}},
                   "metadata": {"CorrelationId": uid("audit", "1", "correlation")}, "timestamp": "2025-11-27T10:00:00.120Z"},
    }
    presence = {
        "version": "0", "id": uid("agent-state", "1"), "detail-type": "v2.detail.events.agent.{id}.state", "source": SOURCE,
        "account": "123456789012", "time": "2025-11-27T10:01:00Z", "region": "us-east-1", "resources": [],
        "detail": {"topicName": f"v2.detail.events.agent.{AGENT_ANA}.state", "version": "2",
                   "eventBody": {"eventTime": 1764237660000, "userId": AGENT_ANA, "state": "AVAILABLE"},
                   "metadata": {"CorrelationId": uid("agent-state", "1", "correlation")}, "timestamp": "2025-11-27T10:01:00.020Z"},
    }
    return [audit, presence]


out = Path(__file__).parent
for name, events in [("voice-inbound-call.jsonl", voice_call()), ("chat-to-voicemail.jsonl", chat_to_voicemail()),
                     ("outbound-campaign.jsonl", outbound_campaign()), ("other-topics.jsonl", other_topics())]:
    (out / "events" / name).parent.mkdir(exist_ok=True)
    (out / "events" / name).write_text("".join(json.dumps(e, separators=(",", ":")) + "\n" for e in events))
kinds = {e["detail-type"].rsplit("}.", 1)[-1] for f in (voice_call, chat_to_voicemail, outbound_campaign) for e in f()}
assert len(kinds) == 16, sorted(kinds)
