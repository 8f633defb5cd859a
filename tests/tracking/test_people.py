"""People have one email at most once; accounts are unique per source."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from tests.tracking.factories import make_identity, make_person
from tracking.models import Identity, Person

pytestmark = pytest.mark.django_db


def test_an_email_is_stored_in_lower_case():
    person = make_person(email="  Alice@Example.COM ")

    assert Person.objects.get(pk=person.pk).email == "alice@example.com"


def test_an_email_taken_in_another_case_is_rejected_with_a_readable_message():
    make_person(name="Alice", email="alice@example.com")

    with pytest.raises(ValidationError) as error:
        Person(name="Alice again", email="ALICE@example.com").full_clean()

    assert error.value.messages == ["Another person already has this email address."]


def test_the_database_refuses_an_email_taken_in_another_case_even_in_bulk():
    make_person(name="Alice", email="alice@example.com")

    # bulk_create skips save(), so only the database's case-insensitive index stops it.
    with pytest.raises(IntegrityError), transaction.atomic():
        Person.objects.bulk_create([Person(name="Alice again", email="ALICE@EXAMPLE.COM")])


def test_many_people_may_have_no_email():
    for name in ("Ann", "Bob", "Cid"):
        make_person(name=name, email="")

    assert Person.objects.filter(email="").count() == 3


def test_many_people_may_share_a_name():
    make_person(name="Sam Lee", email="sam@one.example")

    make_person(name="Sam Lee", email="sam@two.example")

    assert Person.objects.filter(name="Sam Lee").count() == 2


def test_an_account_is_unique_within_its_source():
    make_identity(source="slack", external_id="U123")

    with pytest.raises(IntegrityError), transaction.atomic():
        make_identity(source="slack", external_id="U123")


def test_the_same_account_id_may_exist_in_another_source():
    make_identity(source="slack", external_id="U123")

    make_identity(source="jira", external_id="U123")

    assert Identity.objects.filter(external_id="U123").count() == 2


def test_accounts_in_several_sources_can_belong_to_one_person():
    alice = make_person(name="Alice", email="alice@example.com")
    for source in ("github", "jira", "slack"):
        make_identity(source=source, external_id=f"alice-{source}", person=alice)

    assert sorted(alice.identities.values_list("source", flat=True)) == ["github", "jira", "slack"]


def test_a_duplicate_account_is_named_in_words_by_full_clean():
    make_identity(source="github", external_id="MDQ6VXNlcjE=")

    with pytest.raises(ValidationError) as error:
        Identity(source="github", external_id="MDQ6VXNlcjE=", username="octocat").full_clean()

    assert error.value.messages == ["A row with this source and external id already exists."]
