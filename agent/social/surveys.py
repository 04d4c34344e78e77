"""Satisfaction surveys (满意度测评): a questionnaire per term, answered once per device.

The data administrator defines a survey (a few questions: a 1–5 scale or free text);
anyone with the dining hall's QR code answers it, without a login and without personal
data: the device is a random cookie, kept only as a digest salted with the survey's id.
One answer per device per survey is enforced by the store (a key set only if absent).
Answers stay on the box; the summary (counts and means, the free text only when the
school chooses) is a ``survey_summary`` record for the platform.
"""

from __future__ import annotations

import hashlib
import logging
import secrets
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from agent.core.recorder import Recorded, Recorder
from agent.records.survey_summary import QuestionResult, SurveySummary
from agent.social.complaints import PUBLIC_SOURCE, has_markup
from agent.social.port import SocialStore

log = logging.getLogger("agent.public")

SURVEY_PREFIX, ANSWER_PREFIX = "public.survey.", "public.survey_answer."
QUESTIONS_MAX, QUESTION_MAX, TITLE_MAX = 12, 200, 200
SCALE = (1, 2, 3, 4, 5)


class SurveyRefused(Exception):
    """An answer not taken: ``reason`` is a ``agent.social.counters.REASONS`` key."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True, slots=True)
class Question:
    id: str
    text: str
    kind: str  # scale | text


@dataclass(frozen=True, slots=True)
class Survey:
    id: str
    title: str
    term: str
    questions: tuple[Question, ...]
    open: bool
    created_by: str
    created_at: str

    @staticmethod
    def of(value: dict[str, Any]) -> Survey:
        return Survey(value["id"], value["title"], value["term"],
                      tuple(Question(q["id"], q["text"], q["kind"]) for q in value["questions"]),
                      bool(value["open"]), value["created_by"], value["created_at"])

    def as_dict(self) -> dict[str, Any]:
        return {"id": self.id, "title": self.title, "term": self.term, "open": self.open,
                "created_by": self.created_by, "created_at": self.created_at,
                "questions": [{"id": q.id, "text": q.text, "kind": q.kind} for q in self.questions]}


def parse_questions(lines: str) -> list[Question]:
    """One question a line; a line starting with ``?`` (or ``？``) asks for free text, others a 1–5 score."""
    found: list[Question] = []
    for line in lines.splitlines():
        line = line.strip()
        if not line:
            continue
        kind = "text" if line[0] in "?？" else "scale"
        text = line[1:].strip() if kind == "text" else line
        if not text or len(text) > QUESTION_MAX or has_markup(text):
            raise ValueError("question")
        found.append(Question(f"q{len(found) + 1}", text, kind))
    if not 1 <= len(found) <= QUESTIONS_MAX:
        raise ValueError("questions")
    return found


class Surveys:
    def __init__(self, store: SocialStore) -> None:
        self._store = store

    def define(self, title: str, term: str, questions: list[Question], by: str, now: datetime) -> Survey:
        title, term = title.strip(), term.strip()
        if not title or len(title) > TITLE_MAX or not term or len(term) > 64 or has_markup(title + term):
            raise ValueError("title")
        survey = Survey(secrets.token_hex(6), title, term, tuple(questions), True, by, now.isoformat())
        self._store.kv_set(SURVEY_PREFIX + survey.id, survey.as_dict(), now.isoformat())
        log.info("public survey defined survey=%s questions=%d by=%s", survey.id, len(questions), by)
        return survey

    def get(self, survey_id: str) -> Survey | None:
        value = self._store.kv_get(SURVEY_PREFIX + survey_id) if survey_id.isalnum() else None
        return Survey.of(value) if isinstance(value, dict) else None

    def all(self) -> list[Survey]:
        found = [self.get(k[len(SURVEY_PREFIX):]) for k in self._store.kv_keys(SURVEY_PREFIX)]
        return sorted((s for s in found if s is not None), key=lambda s: s.created_at, reverse=True)

    def close(self, survey_id: str, now: datetime) -> bool:
        survey = self.get(survey_id)
        if survey is None or not survey.open:
            return False
        value = survey.as_dict() | {"open": False}
        self._store.kv_set(SURVEY_PREFIX + survey_id, value, now.isoformat())
        return True

    def answer(self, survey: Survey, device: str, form: dict[str, str], text_max: int, now: datetime) -> None:
        """Keep one device's answer; SurveyRefused (survey_closed, survey_repeat, bad_form,
        markup_in_text) otherwise. ``form``: question id -> what was sent."""
        if not survey.open:
            raise SurveyRefused("survey_closed")
        answers: dict[str, int | str] = {}
        for q in survey.questions:
            sent = (form.get(q.id) or "").strip()
            if q.kind == "scale":
                if sent not in {str(v) for v in SCALE}:
                    raise SurveyRefused("bad_form")
                answers[q.id] = int(sent)
            elif sent:
                if len(sent) > text_max:
                    raise SurveyRefused("bad_form")
                if has_markup(sent):
                    raise SurveyRefused("markup_in_text")
                answers[q.id] = sent
        key = f"{ANSWER_PREFIX}{survey.id}.{device_digest(survey.id, device)}"
        if not self._store.kv_set_if_absent(key, {"at": now.isoformat(), "answers": answers}, now.isoformat()):
            raise SurveyRefused("survey_repeat")

    def answered(self, survey: Survey, device: str) -> bool:
        return self._store.kv_get(f"{ANSWER_PREFIX}{survey.id}.{device_digest(survey.id, device)}") is not None

    def answers(self, survey: Survey) -> list[dict[str, Any]]:
        found = (self._store.kv_get(k) for k in self._store.kv_keys(f"{ANSWER_PREFIX}{survey.id}."))
        return [a for a in found if isinstance(a, dict)]

    def summary(self, survey: Survey, *, with_text: bool) -> SurveySummary:
        answers = [a["answers"] for a in self.answers(survey)]
        results = []
        for q in survey.questions:
            given = [a[q.id] for a in answers if q.id in a]
            if q.kind == "scale":
                counts = [sum(1 for v in given if v == s) for s in SCALE]
                mean = round(sum(int(v) for v in given) / len(given), 2) if given else None
                results.append(QuestionResult(question_id=q.id, text=q.text, kind="scale", answered=len(given),
                                              counts=counts, mean=mean))
            else:
                results.append(QuestionResult(question_id=q.id, text=q.text, kind="text", answered=len(given),
                                              texts=[str(v) for v in given] if with_text else None))
        return SurveySummary(survey_id=survey.id, survey_title=survey.title, term=survey.term,
                             responses=len(answers), questions=results, closed=not survey.open)

    def send_summary(self, recorder: Recorder, survey: Survey, *, with_text: bool) -> Recorded[SurveySummary]:
        saved = recorder.record(self.summary(survey, with_text=with_text), source=PUBLIC_SOURCE)
        log.info("public survey summary saved record=%s survey=%s responses=%d", saved.id, survey.id,
                 saved.data.responses)
        return saved


def device_digest(survey_id: str, device: str) -> str:
    return hashlib.sha256(f"{survey_id}:{device}".encode()).hexdigest()[:32]
