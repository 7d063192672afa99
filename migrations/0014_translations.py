from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise import fields

class Migration(migrations.Migration):
    dependencies = [('models', '0013_urgent_and_drafts')]

    initial = False

    # What a young person reads of a partner before consenting, and a service's opening hours,
    # in Dutch and English beside the French (which stays the reference and the fallback).
    operations = [
        ops.AddField(
            model_name='Partner',
            name='description_en',
            field=fields.TextField(default='', db_default='', unique=False),
        ),
        ops.AddField(
            model_name='Partner',
            name='description_nl',
            field=fields.TextField(default='', db_default='', unique=False),
        ),
        ops.AddField(
            model_name='Partner',
            name='ethics_code_en',
            field=fields.CharField(default='', db_default='', max_length=300),
        ),
        ops.AddField(
            model_name='Partner',
            name='ethics_code_nl',
            field=fields.CharField(default='', db_default='', max_length=300),
        ),
        ops.AddField(
            model_name='Partner',
            name='secrecy_note',
            field=fields.CharField(default='', db_default='', max_length=500),
        ),
        ops.AddField(
            model_name='Partner',
            name='secrecy_note_en',
            field=fields.CharField(default='', db_default='', max_length=500),
        ),
        ops.AddField(
            model_name='Partner',
            name='secrecy_note_nl',
            field=fields.CharField(default='', db_default='', max_length=500),
        ),
        ops.AddField(
            model_name='Service',
            name='hours_en',
            field=fields.CharField(default='', db_default='', max_length=300),
        ),
        ops.AddField(
            model_name='Service',
            name='hours_nl',
            field=fields.CharField(default='', db_default='', max_length=300),
        ),
    ]
