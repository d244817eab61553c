# frozen_string_literal: true

require_relative '../../../puppet_x/monitoring_portal/rest_provider'

Puppet::Type.type(:monitoring_hostgroup).provide(:rest) do
  desc "Talks to the monitoring portal's REST API (/api/v1/registry/hostgroups/<name>/)."

  include PuppetX::MonitoringPortal::RestProvider

  portal_properties(group_alias: ['alias', :string], team: ['team', :ref], node: ['node', :ref])

  def api_path
    "registry/hostgroups/#{PuppetX::MonitoringPortal::Client.path(resource[:name])}"
  end
end
