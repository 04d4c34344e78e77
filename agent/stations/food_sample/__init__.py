"""留样 Food samples: badge, then each dish's sample box on the scale (≥ 125 g, kept 48 h)."""

from __future__ import annotations

from agent.stations.food_sample.config import FoodSampleConfig
from agent.stations.food_sample.due import SAMPLES_MISSING, samples_duty
from agent.stations.food_sample.workflow import FoodSampleStation
from agent.stations.kind import StationKind
from agent.words.terms import Term

KIND: StationKind = StationKind(
    config=FoodSampleConfig,
    workflow=FoodSampleStation,
    label=Term("留样", "Food samples"),
    role_words={"scale": Term("电子秤", "scale")},
    meal_duties=samples_duty,
    duties=(SAMPLES_MISSING,),
    due_records=('food_sample', 'meal_service'),
)
