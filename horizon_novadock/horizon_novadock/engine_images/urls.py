from django.urls import re_path

from horizon_novadock.engine_images import views

urlpatterns = [
    re_path(r"^$", views.IndexView.as_view(), name="index"),
]
