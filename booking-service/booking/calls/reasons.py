"""Why a resident (or someone for them) called the hotline: the fixed list every call is filed under, the same
codes the console shows in Chinese (docs in booking-service/README.md). A new reason is a change of this list."""

from typing import Literal

REASONS: dict[str, str] = {
    "book_service": "预约服务",
    "change_booking": "改期或取消预约",
    "service_question": "咨询服务与价格",
    "entitlement": "补贴与资格咨询",
    "complaint": "投诉或反映问题",
    "registration": "登记或修改资料",
    "helper_request": "家属代为办理",
    "callback": "回访",
    "safety": "紧急安全求助",
    "other": "其他",
}

Reason = Literal[
    "book_service",
    "change_booking",
    "service_question",
    "entitlement",
    "complaint",
    "registration",
    "helper_request",
    "callback",
    "safety",
    "other",
]
OutcomeKind = Literal["booking", "complaint", "need", "registration", "callback"]
# What a call record may link that no operator gives by hand: the urgent safety call it opened (written with it).
URGENT_OUTCOME = "urgent_call"
CallerKind = Literal["resident", "helper", "other"]
