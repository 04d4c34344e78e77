"""What each finding means, for people (the records page, ``today``); the stations say more.

A finding is the short code a kind's rule (its ``judge``) or a workflow writes on a
record (``underweight_sample``, ``symptom_vomiting``); this is its meaning in both
languages.
"""

from __future__ import annotations

from agent.records.staff_health_check import EXCLUDED_EARLIER, HAND_FINDINGS, SYMPTOMS
from agent.words.terms import Term, term

# What each finding means, for people (records page, ``today``); the stations say more.
FINDINGS: dict[str, Term] = {
    "fever": Term("体温超标", "fever"),
    "temperature_low": Term("体温偏低，需复测", "low reading, measure again"),
    "health_certificate_expired": Term("健康证过期", "health certificate expired"),
    "answers_missing": Term("未填症状/手部检查", "answers missing"),
    EXCLUDED_EARLIER: Term("今日已停岗", "off duty earlier today"),
    "underweight_sample": Term("留样重量不足", "underweight sample"),
    "chlorine_below_target": Term("有效氯浓度不足", "chlorine below target"),
    "immersion_too_short": Term("浸泡时间不足", "immersion too short"),
    "cabinet_below_target": Term("未达到消毒温度", "below the disinfection temperature"),
    "hold_too_short": Term("保温时间不足", "held too short"),
    "cycle_cut_short": Term("消毒中途停止", "cycle cut short"),
    "uv_lamp_run_too_short": Term("紫外线消毒时间不足", "UV run too short"),
    "ozone_run_too_short": Term("臭氧消毒时间不足", "ozone run too short"),
    "concentration_below_target": Term("消毒剂浓度不足", "disinfectant too weak"),
    "contact_too_short": Term("作用时间不足", "contact time too short"),
    "expired_on_receipt": Term("到货已过期", "expired on receipt"),
    "near_expiry": Term("临近保质期", "near expiry"),
    "production_date_in_future": Term("生产日期晚于今天", "production date in the future"),
    "supplier_licence_expired": Term("供应商许可证过期", "supplier licence expired"),
    "certificate_not_checked": Term("未查验合格证明", "certificate not checked"),
    "additive_over_limit": Term("添加剂超量", "additive over the limit"),
    "issued_expired_by_override": Term("过期批次经主管放行出库", "expired batch issued by override"),
    "issued_expired": Term("出库批次已过期", "expired batch issued"),
    "issued_unknown_batch_by_override": Term("无入库记录经主管放行出库", "batch without receipt issued by override"),
    "energy_below_target": Term("每份能量低于目标", "energy per portion below the target"),
    "energy_above_target": Term("每份能量高于目标", "energy per portion above the target"),
    "expired_food_found": Term("发现过期食材", "expired food found"),
    "no_mask": Term("未戴口罩", "no mask"),
    "no_hat": Term("未戴厨师帽", "no chef hat"),
    # what the workflows add to a record beside the rules' verdict
    "readings_gap": Term("期间读数中断", "readings missing meanwhile"),
    "cycle_start_not_seen": Term("未见消毒开始", "start of the cycle not seen"),
    "run_start_not_seen": Term("未见开始运行", "start of the run not seen"),
    "supplier_unknown": Term("供应商未登记", "unknown supplier"),
}


def finding_term(finding: str) -> Term:
    """A finding in words: ``symptom_vomiting`` -> 症状：呕吐 symptom: vomiting, and so on."""
    if finding in FINDINGS:
        return FINDINGS[finding]
    if finding.startswith("symptom_"):
        name = term(SYMPTOMS, finding[len("symptom_"):])
        return Term(f"症状：{name.zh}", f"symptom: {name.en or name.zh}")
    if finding.startswith("hand_"):
        name = term(HAND_FINDINGS, finding[len("hand_"):])
        return Term(f"手部：{name.zh}", f"hands: {name.en or name.zh}")
    if finding.startswith("item_failed:"):
        return Term(f"不合格项：{finding[len('item_failed:'):]}", "item failed")
    return Term(finding, "")
