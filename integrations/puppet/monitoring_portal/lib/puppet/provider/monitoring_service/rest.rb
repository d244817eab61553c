# frozen_string_literal: true

require_relative '../../../puppet_x/monitoring_portal/rest_provider'

Puppet::Type.type(:monitoring_service).provide(:rest) do
  desc "Talks to the monitoring portal's REST API (/api/v1/registry/hosts/<host>/services/<description>/)."

  include PuppetX::MonitoringPortal::RestProvider

  portal_properties(
    templates: ['templates', :list],
    servicegroups: ['servicegroups', :set],
    check_command: ['check_command', :ref],
    check_command_args: ['check_command_args', :list],
    check_interval: ['check_interval', :int],
    retry_interval: ['retry_interval', :int],
    max_check_attempts: ['max_check_attempts', :int],
    notification_options: ['notification_options', :string],
    notifications_enabled: ['notifications_enabled', :bool],
    contacts: ['contacts', :set],
    contact_groups: ['contact_groups', :set],
    custom_variables: ['custom_variables', :vars],
    notes: ['notes', :string],
  )

  def api_path
    client_class = PuppetX::MonitoringPortal::Client
    "registry/hosts/#{client_class.path(resource[:host])}services/#{client_class.path(resource[:description])}"
  end
end
