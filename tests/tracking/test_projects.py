"""Projects: one canonical GitHub URL, names unique without regard to case, tags as a list."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.forms import modelform_factory

from tests.tracking.factories import make_project
from tracking.github_urls import normalize_github_url
from tracking.models import Project

pytestmark = pytest.mark.django_db

CANONICAL = "https://github.com/acme/widget"
INVALID_URL_MESSAGE = "Enter a GitHub repository URL such as https://github.com/owner/repo."


@pytest.mark.parametrize(
    "typed",
    [
        "https://github.com/acme/widget",
        "http://github.com/acme/widget",
        "HTTPS://GitHub.com/Acme/Widget",
        "https://github.com/acme/widget.git",
        "https://github.com/acme/widget/",
        "https://github.com/acme/widget.git/",
        "  https://github.com/acme/widget  ",
        "git@github.com:acme/widget.git",
        "git@github.com:Acme/Widget",
        "ssh://git@github.com/acme/widget.git",
        "github.com/acme/widget",
        "github.com/acme/widget.git",
    ],
)
def test_every_way_of_writing_a_github_url_gives_the_canonical_form(typed):
    assert normalize_github_url(typed) == CANONICAL


def test_an_enterprise_server_url_keeps_its_host():
    assert (
        normalize_github_url("git@GHE.example.com:Team/Repo.git")
        == "https://ghe.example.com/team/repo"
    )


def test_dots_dashes_and_underscores_in_names_are_kept():
    assert (
        normalize_github_url("https://github.com/my-org/my_repo.js")
        == "https://github.com/my-org/my_repo.js"
    )


def test_a_blank_github_url_stays_blank():
    assert normalize_github_url("   ") == ""


@pytest.mark.parametrize(
    "typed",
    [
        "acme",
        "https://github.com/",
        "https://github.com/acme",
        "github.com/acme/widget/extra",
        "https://github.com/ac me/widget",
        "https://github.com/acme/wid@get",
        "https://github.com/acme/wid<get>",
        "https://github.com/acme:x/widget",
        "https://github.com/acme/widget^",
    ],
)
def test_something_that_is_not_a_repository_url_is_rejected(typed):
    with pytest.raises(ValidationError) as error:
        normalize_github_url(typed)

    assert error.value.messages == [INVALID_URL_MESSAGE]


def test_full_clean_puts_a_bad_github_url_error_on_its_field():
    project = Project(name="Widget", github_url="not a url")

    with pytest.raises(ValidationError) as error:
        project.full_clean()

    assert error.value.message_dict == {"github_url": [INVALID_URL_MESSAGE]}


def test_a_saved_project_keeps_the_canonical_url_and_its_repository_name():
    project = make_project(github_url="git@github.com:Acme/Widget.git")

    stored = Project.objects.get(pk=project.pk)
    assert stored.github_url == CANONICAL
    assert stored.github_repository == "acme/widget"


def test_removing_the_github_url_clears_the_repository_name():
    project = make_project(github_url=CANONICAL)

    project.github_url = ""
    project.save()

    assert Project.objects.get(pk=project.pk).github_repository == ""


def test_a_name_taken_in_another_case_is_rejected_with_a_readable_message():
    make_project(name="Payments")

    with pytest.raises(ValidationError) as error:
        Project(name="  PAYMENTS ").full_clean()

    assert error.value.messages == [
        "A project with this name already exists (names are compared without regard to case)."
    ]


def test_the_database_refuses_a_name_taken_in_another_case():
    make_project(name="Payments")

    with pytest.raises(IntegrityError), transaction.atomic():
        make_project(name="payments")


def test_a_github_url_used_by_another_project_is_rejected_in_any_spelling():
    make_project(name="Widget", github_url=CANONICAL)

    with pytest.raises(ValidationError) as error:
        Project(name="Widget again", github_url="git@github.com:ACME/widget.git").full_clean()

    assert error.value.messages == ["Another project already points at this GitHub URL."]


def test_the_database_refuses_a_github_url_used_by_another_project():
    make_project(name="Widget", github_url=CANONICAL)

    with pytest.raises(IntegrityError), transaction.atomic():
        make_project(name="Widget again", github_url="github.com/acme/widget")


def test_many_projects_may_have_no_github_url():
    for name in ("One", "Two", "Three"):
        make_project(name=name, github_url="")

    assert Project.objects.filter(github_url="").count() == 3


def test_tags_typed_with_repeats_and_spaces_are_kept_once_in_order():
    form_class = modelform_factory(Project, fields=["name", "status", "tags"])
    form = form_class(data={"name": "Widget", "status": "active", "tags": " a, b, a ,, "})

    assert form.is_valid(), form.errors
    project = form.save()
    assert Project.objects.get(pk=project.pk).tags == ["a", "b"]


def test_tags_are_shown_for_editing_as_comma_separated_text():
    project = make_project(tags=["backend", "payments"])
    form_class = modelform_factory(Project, fields=["name", "status", "tags"])

    form = form_class(instance=project)

    assert form["tags"].value() == "backend, payments"
