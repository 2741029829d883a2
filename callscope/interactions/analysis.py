"""Analysis of a contact's turns: intent from the customer's turns, routing hint, predicted handling time."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from pydantic import BaseModel

from callscope.contacts import Turn
from callscope.prediction.handletime import HandleTime, load_priors, predict_handle_time
from callscope.prediction.routing import RoutingHint, load_routing_table, route
from callscope.settings import Settings
from callscope.understanding import qa
from callscope.understanding.custom_intents import CustomIntentModel
from callscope.understanding.entities import Readings, extract_entities_many
from callscope.understanding.features import conversation_features
from callscope.understanding.intent import (
    MIN_INTENT_CONFIDENCE,
    IntentModel,
    IntentPrediction,
    heard,
    intent_units,
    intents_from_predictions,
    load_intent_model,
)
from callscope.understanding.sentiment import sentiment_summary
from callscope.understanding.summary import summarize

# channel -> stored handling times for an intent, for the tenant asking (see store.outcome_durations)
OutcomeLookup = Callable[[str | None], dict[str, list[float]]]
# (intent, queue) -> the tenant's trained handling-time model's answer, None while it has none (tenants.learning)
LearnedHandleTime = Callable[[str | None, str], HandleTime | None]


class IntentAnswer(BaseModel):
    """The contact's primary intent (None: no customer words) and its calibrated confidence."""

    label: str | None
    confidence: float


class Analysis(BaseModel):
    intent: IntentAnswer
    routing: RoutingHint
    handle_time: HandleTime
    intents: list[dict[str, Any]] = []
    entities: list[dict[str, Any]] = []
    sentiment: dict[str, Any] = {}
    features: dict[str, Any] = {}
    summary: dict[str, Any] | None = None
    qa: dict[str, Any] | None = None

    def details(self) -> dict[str, Any]:
        """What is stored in `interactions.analysis` beyond the indexed columns."""
        return self.model_dump(include={"intents", "entities", "sentiment", "features", "summary", "qa"})


@dataclass(frozen=True)
class Resources:
    """What analysis needs loaded once per process."""

    intent_model: IntentModel | CustomIntentModel  # the shipped model, or a tenant's own (analyze.tenant_resources)
    routing_table: dict[str, Any]
    priors: dict[str, Any]
    min_outcomes: int
    qa_forms: tuple[qa.Form, ...] = ()  # the tenant's QA forms, newest first (the shipped form when none)

    @classmethod
    def from_settings(cls, settings: Settings) -> Resources:
        return cls(
            intent_model=load_intent_model(settings.intent_model_dir),
            routing_table=load_routing_table(settings.routing_table),
            priors=load_priors(settings.handle_time_priors),
            min_outcomes=settings.handle_time_min_outcomes,
        )


def customer_texts(turns: Sequence[Turn]) -> list[str]:
    """The customer's words; a single-track recording has no labelled customer, so all its turns count."""
    return [text for _, text in _customer_turns(turns)]


@dataclass
class Memo:
    """What a batch of contacts shares: intent answers (per model and text) and NER readings (per text), each made
    in one pass over the whole batch (`remember`), so the encoder and spaCy run once per batch, not per contact."""

    intents: dict[tuple[int, str], IntentPrediction] = field(default_factory=dict)
    docs: Readings = field(default_factory=Readings)

    def predict(self, model: IntentModel, texts: Sequence[str]) -> list[IntentPrediction]:
        missing = list(dict.fromkeys(t for t in texts if (id(model), t) not in self.intents))
        if missing:
            self.intents.update(((id(model), t), p) for t, p in zip(missing, model.predict(missing), strict=True))
        return [self.intents[(id(model), t)] for t in texts]

    def remember(self, contacts: Sequence[tuple[IntentModel, Sequence[Turn]]]) -> None:
        """Classify every contact's intent units and read every turn's entities, in one pass each."""
        by_model: dict[int, tuple[IntentModel, list[str]]] = {}
        for model, turns in contacts:
            texts = [text for _, text in intent_units([text for _, text in _customer_turns(turns)])]
            by_model.setdefault(id(model), (model, []))[1].extend(texts)
        for model, texts in by_model.values():
            self.predict(model, texts)
        self.docs.read((t.text, t.ner) for _, turns in contacts for t in turns)


def _customer_turns(turns: Sequence[Turn]) -> list[tuple[int, str]]:
    """(index, text) of the customer's turns; a single-track recording has no labelled customer: all its words count."""
    indexed = [(i, t.text) for i, t in enumerate(turns) if t.speaker == "customer" and t.text.strip()]
    return indexed or [(i, t.text) for i, t in enumerate(turns) if t.speaker == "unknown" and t.text.strip()]


def contact_intents(
    model: IntentModel,
    turns: Sequence[Turn],
    *,
    min_confidence: float = MIN_INTENT_CONFIDENCE,
    memo: Memo | None = None,
) -> tuple[IntentPrediction | None, list[dict[str, Any]]]:
    """The primary intent and the list of intents (primary first, each with its turn index), from one pass.

    The customer's turns are classified once (`detect_intents`; from `memo` when the batch classified them); when
    no turn qualifies, the whole contact's answer (may be `other`) is the primary intent and the list is empty."""
    indexed = _customer_turns(turns)
    if not indexed:
        return None, []
    units = intent_units([text for _, text in indexed])
    predictions = (memo or Memo()).predict(model, [text for _, text in units])
    found = intents_from_predictions(units, predictions, min_confidence=min_confidence)
    listed = [
        {"label": d.label, "confidence": round(d.confidence, 4), "turn": indexed[d.turn][0], "support": d.support,
         "primary": d.primary}
        for d in found
    ]  # fmt: skip
    if found:
        return IntentPrediction(found[0].label, found[0].confidence), listed
    return model.predict([" ".join(text for _, text in indexed)])[0], listed


def contact_entities(turns: Sequence[Turn], memo: Memo | None = None) -> list[dict[str, Any]]:
    """Entities of every turn (read from redacted text and its placeholders), each with its turn index."""
    items = [(t.text, t.redactions, t.ner) for t in turns]
    found = extract_entities_many(items, docs=memo.docs if memo else None)
    return [{**asdict(e), "turn": i, "speaker": turns[i].speaker} for i, entities in enumerate(found) for e in entities]


def analyze_turns(
    turns: Sequence[Turn],
    *,
    channel: str,
    resources: Resources,
    outcomes: OutcomeLookup,
    duration_s: float | None = None,
    learned: LearnedHandleTime | None = None,
    memo: Memo | None = None,
) -> Analysis:
    """Intent(s), entities, sentiment, conversation features, routing hint and handling time for one contact.

    Handling time is predicted once: by the tenant's trained model where `learned` has one, else from priors and the
    stored outcomes."""
    model = heard(resources.intent_model) if channel == "voice" else resources.intent_model
    prediction, intents = contact_intents(model, turns, memo=memo)
    label = prediction.label if prediction else None
    confidence = round(prediction.confidence, 4) if prediction else 0.0
    hint = route(resources.routing_table, intent=label, confidence=confidence)
    entities = contact_entities(turns, memo)
    sentiment = sentiment_summary(turns)
    features = conversation_features(turns, channel=channel, duration_s=duration_s) if turns else {}
    summary = summarize(turns, intents=intents, entities=entities, intent=label) if turns else None
    handle_time = learned(label, hint.queue) if learned is not None else None
    if handle_time is None:
        by_channel = outcomes(label)
        handle_time = predict_handle_time(
            resources.priors,
            channel=channel,
            queue=hint.queue,
            intent=label,
            same_channel=by_channel.get(channel, []),
            any_channel=[s for values in by_channel.values() for s in values],
            min_outcomes=resources.min_outcomes,
        )
    scored = None
    if summary is not None:
        contact = qa.Contact(
            turns=turns, channel=channel, intent=label, sentiment_scores=sentiment["turn_scores"], features=features,
            actions=[a["action"] for a in summary["actions"]],
        )  # fmt: skip
        scored = qa.evaluate(qa.form_for(resources.qa_forms, channel), contact)
    return Analysis(
        intent=IntentAnswer(label=label, confidence=confidence),
        routing=hint,
        handle_time=handle_time,
        intents=intents,
        entities=entities,
        sentiment=sentiment,
        features=features,
        summary=summary,
        qa=scored,
    )


def no_outcomes(_intent: str | None) -> dict[str, list[float]]:
    """Outcome lookup for offline use (the CLI without a database): priors only."""
    return {}
